using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests.Hardening;

/// <summary>Round-trip times of a well-behaved client, in milliseconds.</summary>
internal sealed record LatencyStats(int Count, double P50, double P99, double Max, int Failures)
{
    public override string ToString() => $"{Count} round trips, p50 {P50:F1} ms, p99 {P99:F1} ms, max {Max:F1} ms, {Failures} failures";

    public static LatencyStats From(IReadOnlyList<double> samples, int failures)
    {
        if (samples.Count == 0)
        {
            return new LatencyStats(0, double.NaN, double.NaN, double.NaN, failures);
        }

        var sorted = samples.Order().ToArray();
        return new LatencyStats(sorted.Length, Percentile(sorted, 0.50), Percentile(sorted, 0.99), sorted[^1], failures);
    }

    private static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
}

/// <summary>
/// A well-behaved client on a raw echo endpoint that sends a message, waits for its echo and records the round trip,
/// over and over (one every 10 ms) until stopped. Runs while attacks hit the same server, to show it keeps serving.
/// </summary>
internal sealed class EchoProbe : IAsyncDisposable
{
    private readonly ClientWebSocket _socket;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<double> _samples = [];
    private readonly Task _loop;
    private int _failures;

    private EchoProbe(ClientWebSocket socket)
    {
        _socket = socket;
        _loop = Task.Run(LoopAsync);
    }

    public static async Task<EchoProbe> StartAsync(TestHost host, string path = "/ws/echo")
        => new(await host.ConnectAsync(path));

    /// <summary>Round trips so far.</summary>
    public int Count
    {
        get
        {
            lock (_samples)
            {
                return _samples.Count;
            }
        }
    }

    /// <summary>Waits until at least <paramref name="count"/> more round trips have completed (the probe is alive).</summary>
    public async Task WaitForMoreAsync(int count)
    {
        var target = Count + count;
        while (Count < target)
        {
            Assert.False(_loop.IsCompleted, $"The echo probe stopped: {_loop.Exception?.GetBaseException().Message}");
            await Task.Delay(10);
        }
    }

    /// <summary>Stops the loop, closes the connection cleanly and returns the figures, leaving out the first <paramref name="skip"/> (warm-up).</summary>
    public async Task<LatencyStats> StopAsync(int skip = 0)
    {
        _stop.Cancel();
        await _loop.DefaultTimeout();
        if (_socket.State == WebSocketState.Open)
        {
            await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).DefaultTimeout();
        }

        lock (_samples)
        {
            return LatencyStats.From([.. _samples.Skip(skip)], _failures);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try
        {
            await _loop.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception)
        {
        }

        _socket.Dispose();
        _stop.Dispose();
    }

    private async Task LoopAsync()
    {
        var buffer = new byte[256];
        var n = 0;
        while (!_stop.IsCancellationRequested)
        {
            var text = $"probe {n++}";
            var started = Stopwatch.GetTimestamp();
            try
            {
                // A round trip that takes longer than 30 s is a failure, not a hang.
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, timeout.Token);
                var result = await _socket.ReceiveAsync(buffer, timeout.Token);
                if (!result.EndOfMessage || Encoding.UTF8.GetString(buffer, 0, result.Count) != text)
                {
                    Interlocked.Increment(ref _failures);
                    return;
                }
            }
            catch (Exception)
            {
                Interlocked.Increment(ref _failures);
                return;
            }

            var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            lock (_samples)
            {
                _samples.Add(elapsed);
            }

            try
            {
                await Task.Delay(10, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
