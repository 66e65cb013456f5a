using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net.WebSockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using WebSockets.Internal;
using WebSockets.Tests.Infrastructure;
using Xunit.Abstractions;

namespace WebSockets.Tests.Hardening;

/// <summary>
/// Issue 8 point 4: one client stops reading while the server broadcasts 100 000 messages of 512 bytes to its namespace.
/// The slow client's queue never holds more than SendQueueCapacity (256) messages, managed memory after a full GC grows
/// by less than 16 MB (each client is sent 51 MB, so a leak per message would show), and three well-behaved clients receive every message with a p99 latency under 500 ms (broadcast to receipt),
/// whichever full-queue policy applies.
/// </summary>
[Collection(HardeningCollection.Name)]
public sealed class SlowConsumerTests(ITestOutputHelper output)
{
    private const int Messages = 100_000;
    private const int Round = 100; // well under the capacity, so the good clients never fill their own queues
    private const int Capacity = 256;
    private const int GoodClients = 3;
    private const int PayloadSize = 512;

    [Theory]
    [Trait("Category", "stress")]
    [InlineData(SendQueueFullMode.Close)]
    [InlineData(SendQueueFullMode.DropOldest)]
    [InlineData(SendQueueFullMode.DropNewest)]
    public async Task ClientStopsReading_During100000Broadcasts_QueueAndMemoryStayBounded_AndOthersKeepTheirLatency(SendQueueFullMode mode)
    {
        var hooks = new HookCounter();
        await using var host = await StartAsync(hooks, mode);
        using var drops = new DropCounter(host.Services.GetRequiredService<IMeterFactory>());
        var good = await ConnectGoodClientsAsync(host, hooks);

        // A tiny receive window, so that the server's socket buffers fill after a few thousand messages.
        await using var slow = await host.ConnectRawAsync("/ws/raw", receiveBufferSize: 4096);
        var slowConnection = (SocketConnection)await hooks.NextConnectedAsync();
        var before = FloodTests.Memory();

        var run = await BroadcastAsync(host, good, slowConnection);

        var after = FloodTests.Memory();
        var latency = LatencyStats.From([.. good.SelectMany(g => g.Latencies)], failures: 0);
        var dropped = drops.Count;
        output.WriteLine($"{mode}: {Messages} broadcasts in {run.Elapsed.TotalSeconds:F1} s; slow client's queue peaked at {run.PeakQueued} (capacity {Capacity}); " +
            $"{dropped} dropped; managed memory {FloodTests.Mb(after.Managed - before.Managed)} MB after GC (peak seen {FloodTests.Mb(run.PeakManaged - before.Managed)} MB), " +
            $"working set {FloodTests.Mb(after.WorkingSet - before.WorkingSet)} MB; good clients: {latency}");

        Assert.All(good, g => Assert.Equal(Messages, g.Received));
        Assert.True(run.PeakQueued <= Capacity, $"The queue held {run.PeakQueued} messages.");
        Assert.True(after.Managed - before.Managed < 16 * 1024 * 1024, $"Managed memory grew {FloodTests.Mb(after.Managed - before.Managed)} MB.");
        Assert.True(latency.P99 < HostileFrameTests.P99BoundMs, latency.ToString());
        if (mode == SendQueueFullMode.Close)
        {
            var ended = await hooks.NextEndedAsync();
            Assert.Same(slowConnection, ended.Connection);
            Assert.Equal(DisconnectReason.SlowConsumer, ended.Reason);
            Assert.Equal(0, dropped);
        }
        else
        {
            Assert.True(slowConnection.IsOpen);
            Assert.Equal(Capacity, slowConnection.QueuedMessages);
            Assert.InRange(dropped, 1, Messages);
            slow.Reset();
            Assert.Equal(DisconnectReason.ConnectionLost, (await hooks.NextEndedAsync()).Reason);
        }

        await CloseAsync(good);
        await hooks.AllEndedAsync(TimeSpan.FromSeconds(10));
        await HostileServer.AssertNothingLeftAsync(host, baseline: 0);
    }

    /// <summary>
    /// Wait mode: a broadcast waits for room in every queue, so a client that stops reading stalls the broadcaster
    /// (README: "the sender slows to the client's pace"). The others have each message before the stall. A client that
    /// reads nothing answers no ping either, so KeepAliveTimeout (1 s after a 500 ms interval here) drops it and the
    /// broadcast resumes; the stall is bounded by the keep-alive settings (asserted under 6 s) and nothing is lost.
    /// </summary>
    [Fact]
    [Trait("Category", "stress")]
    public async Task WaitMode_ClientStopsReading_StallsTheBroadcasterUntilKeepAliveDropsIt_AndNothingIsLost()
    {
        var hooks = new HookCounter();
        await using var host = await StartAsync(hooks, SendQueueFullMode.Wait, keepAlive: true);
        var good = await ConnectGoodClientsAsync(host, hooks);
        await using var slow = await host.ConnectRawAsync("/ws/raw", receiveBufferSize: 4096);
        var slowConnection = (SocketConnection)await hooks.NextConnectedAsync();
        var before = FloodTests.Memory();

        var run = await BroadcastAsync(host, good, slowConnection);

        var after = FloodTests.Memory();
        var latency = LatencyStats.From([.. good.SelectMany(g => g.Latencies)], failures: 0);
        output.WriteLine($"Wait: {Messages} broadcasts in {run.Elapsed.TotalSeconds:F1} s; longest broadcast stall {run.LongestStall.TotalMilliseconds:F0} ms; " +
            $"slow client's queue peaked at {run.PeakQueued}; managed memory {FloodTests.Mb(after.Managed - before.Managed)} MB; good clients: {latency}");

        var ended = await hooks.NextEndedAsync();
        Assert.Same(slowConnection, ended.Connection);
        Assert.Equal(DisconnectReason.ConnectionLost, ended.Reason);
        Assert.InRange(run.LongestStall.TotalSeconds, 0.5, 6);
        Assert.True(run.PeakQueued <= Capacity);
        Assert.All(good, g => Assert.Equal(Messages, g.Received));
        Assert.True(after.Managed - before.Managed < 16 * 1024 * 1024, $"Managed memory grew {FloodTests.Mb(after.Managed - before.Managed)} MB.");

        await CloseAsync(good);
        await hooks.AllEndedAsync(TimeSpan.FromSeconds(10));
        await HostileServer.AssertNothingLeftAsync(host, baseline: 0);
    }

    private static Task<TestHost> StartAsync(HookCounter hooks, SendQueueFullMode mode, bool keepAlive = false)
        => HostileServer.StartAsync(
            hooks,
            options: o =>
            {
                o.SendQueueFullMode = mode;
                o.SendQueueCapacity = Capacity;
            },
            endpoint: o =>
            {
                if (keepAlive)
                {
                    o.KeepAliveInterval = TimeSpan.FromMilliseconds(500);
                    o.KeepAliveTimeout = TimeSpan.FromSeconds(1);
                }
            },
            services: s => s.AddLogging(b => b.AddFilter<TestLoggerProvider>(null, LogLevel.Information)));

    private static async Task<GoodClient[]> ConnectGoodClientsAsync(TestHost host, HookCounter hooks)
    {
        var clients = new GoodClient[GoodClients];
        for (var i = 0; i < GoodClients; i++)
        {
            clients[i] = new GoodClient(await host.ConnectAsync("/ws/raw"));
            await hooks.NextConnectedAsync();
        }

        return clients;
    }

    private static async Task CloseAsync(GoodClient[] clients)
    {
        foreach (var client in clients)
        {
            await client.CloseAsync();
        }
    }

    private sealed record Run(TimeSpan Elapsed, int PeakQueued, long PeakManaged, TimeSpan LongestStall);

    /// <summary>
    /// Broadcasts in rounds of 100, each round waiting until the good clients have it all, so that they are never the
    /// ones that fall behind. Every message carries the Stopwatch timestamp of its broadcast.
    /// </summary>
    private static async Task<Run> BroadcastAsync(TestHost host, GoodClient[] good, SocketConnection slow)
    {
        var padding = new string('x', PayloadSize - 20);
        var peakQueued = 0;
        var peakManaged = 0L;
        var longestStall = TimeSpan.Zero;
        var started = Stopwatch.GetTimestamp();
        for (var sent = 0; sent < Messages;)
        {
            for (var i = 0; i < Round; i++, sent++)
            {
                var text = Stopwatch.GetTimestamp().ToString("D19", System.Globalization.CultureInfo.InvariantCulture) + padding;
                var broadcasting = host.Registry.BroadcastAsync(SocketMessage.Text(text), HostileServer.Hostile);
                if (!broadcasting.IsCompletedSuccessfully)
                {
                    var stall = Stopwatch.GetTimestamp();
                    await broadcasting.AsTask().WaitAsync(TimeSpan.FromSeconds(30));
                    var stalled = Stopwatch.GetElapsedTime(stall);
                    longestStall = stalled > longestStall ? stalled : longestStall;
                }

                peakQueued = Math.Max(peakQueued, slow.QueuedMessages);
            }

            foreach (var client in good)
            {
                await client.WaitForAsync(sent);
            }

            peakManaged = Math.Max(peakManaged, GC.GetTotalMemory(false));
        }

        return new Run(Stopwatch.GetElapsedTime(started), peakQueued, peakManaged, longestStall);
    }

    /// <summary>Counts the host's dropped messages without keeping each measurement (MetricRecorder would hold ~100 000).</summary>
    private sealed class DropCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _count;

        public DropCounter(IMeterFactory meterFactory)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (ReferenceEquals(instrument.Meter.Scope, meterFactory) && instrument.Name == "websockets.server.dropped_messages")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _count, value));
            _listener.Start();
        }

        public long Count => Interlocked.Read(ref _count);

        public void Dispose() => _listener.Dispose();
    }

    /// <summary>Reads every message as it comes and records broadcast-to-receipt latency.</summary>
    private sealed class GoodClient
    {
        private readonly ClientWebSocket _socket;
        private readonly Task _reading;
        private readonly List<double> _latencies = new(Messages);
        private int _received;

        public GoodClient(ClientWebSocket socket)
        {
            _socket = socket;
            _reading = Task.Run(ReadAsync);
        }

        public int Received => Volatile.Read(ref _received);

        public IReadOnlyList<double> Latencies => _latencies;

        public async Task WaitForAsync(int count)
        {
            var deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 30;
            while (Received < count)
            {
                Assert.False(_reading.IsCompleted, $"A good client stopped reading: {_reading.Exception?.GetBaseException().Message} ({_socket.CloseStatus})");
                Assert.True(Stopwatch.GetTimestamp() < deadline, $"A good client has {Received} of {count} messages after 30 s.");
                await Task.Delay(1);
            }
        }

        public async Task CloseAsync()
        {
            await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).DefaultTimeout();
            await _reading.DefaultTimeout();
            _socket.Dispose();
        }

        private async Task ReadAsync()
        {
            var buffer = new byte[PayloadSize * 2];
            while (true)
            {
                var result = await _socket.ReceiveAsync(buffer, CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }

                var sent = long.Parse(Encoding.ASCII.GetString(buffer, 0, 19), System.Globalization.CultureInfo.InvariantCulture);
                _latencies.Add(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
                Interlocked.Increment(ref _received);
            }
        }
    }
}
