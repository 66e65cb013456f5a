using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;

namespace WebSockets.Internal;

/// <summary>
/// The admin endpoint's view of the library's own counters: an in-process <see cref="MeterListener"/> on this host's
/// <c>WebSockets</c> meter that adds each measurement to a total (and to a per-namespace or per-reason total), and a
/// few samples of the totals from which message rates are computed. It exists only while the admin endpoint is mapped;
/// per message it costs one callback and an interlocked add, with no allocation.
/// </summary>
internal sealed class SocketAdminMonitor : IDisposable
{
    /// <summary>Rates are measured over about this long (at least one second once there is a sample that old).</summary>
    internal static readonly TimeSpan RateWindow = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan s_sampleInterval = TimeSpan.FromSeconds(1);

    private readonly MeterListener _listener = new();
    private readonly TimeProvider _timeProvider;
    private readonly Lock _samplesLock = new();
    private readonly Queue<Sample> _samples = new();

    public SocketAdminMonitor(SocketMetrics metrics, TimeProvider timeProvider)
    {
        _timeProvider = timeProvider;
        Since = timeProvider.GetUtcNow();
        var tallies = new Dictionary<string, Tally>(StringComparer.Ordinal)
        {
            ["websockets.server.connects"] = Connects,
            ["websockets.server.disconnects"] = Disconnects,
            ["websockets.server.messages_received"] = MessagesReceived,
            ["websockets.server.messages_sent"] = MessagesSent,
            ["websockets.server.bytes_received"] = BytesReceived,
            ["websockets.server.bytes_sent"] = BytesSent,
            ["websockets.server.dropped_messages"] = Dropped,
            ["websockets.server.discarded_messages"] = Discarded,
            ["websockets.server.rejected_connections"] = RejectedConnections,
            ["websockets.server.rejected_messages"] = RejectedMessages,
            ["websockets.server.handler_timeouts"] = HandlerTimeouts,
        };

        var meter = metrics.Meter;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, meter) && tallies.TryGetValue(instrument.Name, out var tally))
            {
                listener.EnableMeasurementEvents(instrument, tally);
            }
        };
        _listener.SetMeasurementEventCallback<long>(static (_, value, tags, state) => ((Tally)state!).Add(value, tags));
        _listener.Start();
        _samples.Enqueue(TakeSample(timeProvider.GetTimestamp()));
    }

    /// <summary>When counting began: the totals count from here.</summary>
    public DateTimeOffset Since { get; }

    public Tally Connects { get; } = new(SocketMetrics.NamespaceTag);

    public Tally Disconnects { get; } = new("websockets.disconnect.reason");

    public Tally MessagesReceived { get; } = new(SocketMetrics.NamespaceTag);

    public Tally MessagesSent { get; } = new(SocketMetrics.NamespaceTag);

    public Tally BytesReceived { get; } = new(null);

    public Tally BytesSent { get; } = new(null);

    public Tally Dropped { get; } = new(SocketMetrics.NamespaceTag);

    public Tally Discarded { get; } = new(SocketMetrics.NamespaceTag);

    public Tally RejectedConnections { get; } = new(RejectionReason.TagName);

    public Tally RejectedMessages { get; } = new(RejectionReason.TagName);

    public Tally HandlerTimeouts { get; } = new(SocketMetrics.NamespaceTag);

    /// <summary>
    /// Messages and bytes per second, in and out, over the last <see cref="RateWindow"/> or so. Samples are taken when
    /// asked, at most one a second, so nothing runs while nobody looks.
    /// </summary>
    public Rates GetRates()
    {
        var now = _timeProvider.GetTimestamp();
        var current = TakeSample(now);
        Sample baseline;
        lock (_samplesLock)
        {
            baseline = PickBaseline(now);
            if (_timeProvider.GetElapsedTime(_samples.Last().Timestamp, now) >= s_sampleInterval)
            {
                _samples.Enqueue(current);
                while (_samples.Count > 2 && _timeProvider.GetElapsedTime(_samples.ElementAt(1).Timestamp, now) > RateWindow)
                {
                    _samples.Dequeue();
                }
            }
        }

        var seconds = _timeProvider.GetElapsedTime(baseline.Timestamp, now).TotalSeconds;
        if (seconds <= 0)
        {
            return default;
        }

        return new Rates(
            (current.Received - baseline.Received) / seconds,
            (current.Sent - baseline.Sent) / seconds,
            (current.BytesReceived - baseline.BytesReceived) / seconds,
            (current.BytesSent - baseline.BytesSent) / seconds,
            seconds);
    }

    /// <summary>
    /// The oldest sample within the window that is at least a second old; failing that, the newest one older than the
    /// window; failing that (just started), the first.
    /// </summary>
    private Sample PickBaseline(long now)
    {
        Sample? tooOld = null;
        foreach (var sample in _samples)
        {
            var age = _timeProvider.GetElapsedTime(sample.Timestamp, now);
            if (age > RateWindow)
            {
                tooOld = sample;
                continue;
            }

            if (age >= s_sampleInterval)
            {
                return sample;
            }

            break;
        }

        return tooOld ?? _samples.Peek();
    }

    private Sample TakeSample(long timestamp)
        => new(timestamp, MessagesReceived.Total, MessagesSent.Total, BytesReceived.Total, BytesSent.Total);

    public void Dispose() => _listener.Dispose();

    private readonly record struct Sample(long Timestamp, long Received, long Sent, long BytesReceived, long BytesSent);

    /// <summary>Rates per second, measured over <paramref name="WindowSeconds"/>.</summary>
    internal readonly record struct Rates(double MessagesReceived, double MessagesSent, double BytesReceived, double BytesSent, double WindowSeconds);

    /// <summary>A running total of one instrument, and optionally of each value of one of its tags.</summary>
    internal sealed class Tally(string? breakdownTag)
    {
        private readonly ConcurrentDictionary<string, StrongBox<long>>? _byTag = breakdownTag is null ? null : new(StringComparer.Ordinal);
        private long _total;

        public long Total => Volatile.Read(ref _total);

        public void Add(long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            Interlocked.Add(ref _total, value);
            if (_byTag is null)
            {
                return;
            }

            foreach (var tag in tags)
            {
                if (string.Equals(tag.Key, breakdownTag, StringComparison.Ordinal) && tag.Value is string key)
                {
                    // Tag values are namespaces and reasons, both fixed by the server: the map stays small.
                    Interlocked.Add(ref _byTag.GetOrAdd(key, static _ => new StrongBox<long>()).Value, value);
                    return;
                }
            }
        }

        public long Of(string key) => _byTag is not null && _byTag.TryGetValue(key, out var box) ? Volatile.Read(ref box.Value) : 0;

        /// <summary>The non-zero totals per tag value, sorted by tag value.</summary>
        public SortedDictionary<string, long> ByTag()
        {
            var result = new SortedDictionary<string, long>(StringComparer.Ordinal);
            if (_byTag is not null)
            {
                foreach (var (key, box) in _byTag)
                {
                    var value = Volatile.Read(ref box.Value);
                    if (value != 0)
                    {
                        result[key] = value;
                    }
                }
            }

            return result;
        }
    }
}
