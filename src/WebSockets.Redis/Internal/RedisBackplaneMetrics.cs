using System.Diagnostics.Metrics;

namespace WebSockets.Redis.Internal;

/// <summary>
/// The Redis backplane's instruments, on the <c>WebSockets.Redis</c> meter created through <see cref="IMeterFactory"/>.
/// Names follow OpenTelemetry conventions.
/// </summary>
internal sealed class RedisBackplaneMetrics
{
    public const string MeterName = "WebSockets.Redis";

    private readonly Counter<long> _publishes;
    private readonly Counter<long> _publishErrors;
    private readonly Counter<long> _receives;
    private readonly Counter<long> _presenceErrors;

    public RedisBackplaneMetrics(IMeterFactory meterFactory)
    {
        Meter = meterFactory.Create(MeterName);
        _publishes = Meter.CreateCounter<long>(
            "websockets.backplane.publishes", "{message}", "Messages published to the other servers through Redis.");
        _publishErrors = Meter.CreateCounter<long>(
            "websockets.backplane.publish_errors", "{message}", "Messages that could not be published, for example while Redis was unreachable: the other servers never get them.");
        _receives = Meter.CreateCounter<long>(
            "websockets.backplane.receives", "{message}", "Messages received from the other servers through Redis.");
        _presenceErrors = Meter.CreateCounter<long>(
            "websockets.backplane.presence_errors", "{operation}", "Presence writes that failed; this server's presence is written again in full once Redis answers.");
    }

    public Meter Meter { get; }

    public void Published() => _publishes.Add(1);

    public void PublishFailed() => _publishErrors.Add(1);

    public void Received() => _receives.Add(1);

    public void PresenceFailed() => _presenceErrors.Add(1);
}
