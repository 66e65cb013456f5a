using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace WebSockets.Client.Internal;

/// <summary>The client's instruments on the <c>WebSockets.Client</c> meter. Names follow OpenTelemetry conventions.</summary>
internal sealed class ClientMetrics
{
    public const string MeterName = "WebSockets.Client";

    private static readonly Lazy<Meter> s_sharedMeter = new(() => new Meter(MeterName));

    private readonly Counter<long> _droppedMessages;
    private readonly Counter<long> _connectionAttempts;
    private readonly string _name;

    public ClientMetrics(IMeterFactory? meterFactory, string name)
    {
        _name = name;
        var meter = meterFactory?.Create(MeterName) ?? s_sharedMeter.Value;
        _droppedMessages = meter.CreateCounter<long>(
            "websockets.client.dropped_messages", "{message}", "Messages dropped instead of being sent (reasons expired, stopped) or handled (reason inbound_full), by client and reason.");
        _connectionAttempts = meter.CreateCounter<long>(
            "websockets.client.connection_attempts", "{attempt}", "Connection attempts, by client and result (success, failure).");
    }

    public void MessagesDropped(int count, string reason)
    {
        if (count > 0 && _droppedMessages.Enabled)
        {
            _droppedMessages.Add(count, new TagList { { "websockets.client.name", _name }, { "websockets.client.drop_reason", reason } });
        }
    }

    public void ConnectionAttempt(bool success)
    {
        if (_connectionAttempts.Enabled)
        {
            _connectionAttempts.Add(1, new TagList { { "websockets.client.name", _name }, { "websockets.client.result", success ? "success" : "failure" } });
        }
    }
}
