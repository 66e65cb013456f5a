using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace WebSockets.Tests.Infrastructure;

/// <summary>
/// Records the measurements of one host's meter (matched by the IMeterFactory that created it), so that tests
/// running in parallel do not see each other's numbers.
/// </summary>
internal sealed class MetricRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<(string Instrument, long Value, KeyValuePair<string, object?>[] Tags)> _measurements = new();
    private readonly ConcurrentQueue<(string Instrument, double Value, KeyValuePair<string, object?>[] Tags)> _doubles = new();

    public MetricRecorder(IMeterFactory meterFactory)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, meterFactory))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => _measurements.Enqueue((instrument.Name, value, tags.ToArray())));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => _doubles.Enqueue((instrument.Name, value, tags.ToArray())));
        _listener.Start();
    }

    public long Sum(string instrument, string? tag = null, object? tagValue = null)
        => _measurements
            .Where(m => m.Instrument == instrument && (tag is null || m.Tags.Any(t => t.Key == tag && Equals(t.Value, tagValue))))
            .Sum(m => m.Value);

    /// <summary>The measurements of a <c>double</c> instrument (a histogram), with their tags.</summary>
    public IReadOnlyList<(double Value, IReadOnlyDictionary<string, object?> Tags)> Doubles(string instrument)
        => [.. _doubles.Where(m => m.Instrument == instrument).Select(m => (m.Value, (IReadOnlyDictionary<string, object?>)m.Tags.ToDictionary(t => t.Key, t => t.Value)))];

    /// <summary>Reads the observable instruments now and returns the last value of one, for the given tag value.</summary>
    public long? Observe(string instrument, string tag, object? tagValue)
    {
        _listener.RecordObservableInstruments();
        return _measurements
            .Where(m => m.Instrument == instrument && m.Tags.Any(t => t.Key == tag && Equals(t.Value, tagValue)))
            .Select(m => (long?)m.Value)
            .LastOrDefault();
    }

    public void Dispose() => _listener.Dispose();
}
