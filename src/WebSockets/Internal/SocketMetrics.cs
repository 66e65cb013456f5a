using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace WebSockets.Internal;

/// <summary>
/// The library's instruments, created through <see cref="IMeterFactory"/> so that each host has its own meter.
/// Names follow OpenTelemetry conventions.
/// </summary>
internal sealed class SocketMetrics
{
    public const string MeterName = "WebSockets";

    private readonly UpDownCounter<long> _activeConnections;
    private readonly Counter<long> _disconnects;
    private readonly Counter<long> _droppedMessages;

    public SocketMetrics(IMeterFactory meterFactory)
    {
        Meter = meterFactory.Create(MeterName);
        _activeConnections = Meter.CreateUpDownCounter<long>(
            "websockets.server.active_connections", "{connection}", "Connections currently open, by namespace.");
        _disconnects = Meter.CreateCounter<long>(
            "websockets.server.disconnects", "{connection}", "Connections ended, by namespace and reason.");
        _droppedMessages = Meter.CreateCounter<long>(
            "websockets.server.dropped_messages", "{message}", "Messages discarded because a send queue was full, by namespace.");
    }

    public Meter Meter { get; }

    public void ConnectionOpened(string ns)
    {
        if (_activeConnections.Enabled)
        {
            _activeConnections.Add(1, new KeyValuePair<string, object?>("websockets.namespace", ns));
        }
    }

    public void ConnectionClosed(string ns, DisconnectReason reason)
    {
        // Tags of the -1 must match the +1 in ConnectionOpened.
        if (_activeConnections.Enabled)
        {
            _activeConnections.Add(-1, new KeyValuePair<string, object?>("websockets.namespace", ns));
        }

        if (_disconnects.Enabled)
        {
            var tags = new TagList
            {
                { "websockets.namespace", ns },
                { "websockets.disconnect.reason", ReasonTag(reason) },
            };
            _disconnects.Add(1, tags);
        }
    }

    public void MessageDropped(string ns)
    {
        if (_droppedMessages.Enabled)
        {
            _droppedMessages.Add(1, new KeyValuePair<string, object?>("websockets.namespace", ns));
        }
    }

    internal static string ReasonTag(DisconnectReason reason) => reason switch
    {
        DisconnectReason.ClientClosed => "client_closed",
        DisconnectReason.ConnectionLost => "connection_lost",
        DisconnectReason.ServerClosed => "server_closed",
        DisconnectReason.ServerShutdown => "server_shutdown",
        DisconnectReason.SlowConsumer => "slow_consumer",
        DisconnectReason.MessageTooBig => "message_too_big",
        DisconnectReason.IdleTimeout => "idle_timeout",
        DisconnectReason.HookFailed => "hook_failed",
        DisconnectReason.ProtocolError => "protocol_error",
        _ => "unknown",
    };
}
