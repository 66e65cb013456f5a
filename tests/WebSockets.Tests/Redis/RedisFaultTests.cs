using System.Diagnostics;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests.Redis;

/// <summary>
/// Fault injection under load: redis-server is killed and restarted while clients on two servers keep making
/// requests and one server keeps publishing to the cluster. Nothing local may stall or fail, and cluster delivery
/// must come back by itself.
/// </summary>
public sealed class RedisFaultTests : IAsyncLifetime
{
    private const string Lobby = "lobby";
    private const string Busy = "busy-room";
    private const int ClientsPerServer = 8;
    private const int RepliesPerPhase = 400;

    // The bound a local request/reply must meet while Redis is down, on a loaded 2-core machine. Local requests never
    // touch Redis, so an outage must not show in their latency beyond scheduling noise.
    private static readonly TimeSpan s_outageP99Bound = TimeSpan.FromSeconds(1);

    private RedisServer _redis = null!;

    public async Task InitializeAsync() => _redis = await RedisServer.StartAsync();

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    [Fact]
    public async Task RedisKilledAndRestartedUnderLoad_EveryLocalRequestIsAnswered_AndClusterDeliveryResumes()
    {
        await using var cluster = new RedisCluster(_redis, RedisCluster.NewPrefix());
        var a = await cluster.StartServerAsync();
        var b = await cluster.StartServerAsync();
        await using var listener = await ChatClient.ConnectAsync(b, name: "listener");
        await listener.JoinAsync(Lobby);

        var workers = new List<ChatClient>();
        for (var i = 0; i < ClientsPerServer; i++)
        {
            workers.Add(await ChatClient.ConnectAsync(a));
            workers.Add(await ChatClient.ConnectAsync(b));
        }

        using var stop = new CancellationTokenSource();
        var load = new Load();
        var loops = workers.Select(w => RequestLoopAsync(w, load, stop.Token)).ToList();
        loops.Add(PublishLoopAsync(a, stop.Token));
        try
        {
            await load.WaitForAsync(RepliesPerPhase).DefaultTimeout();

            await _redis.KillAsync();
            await a.Logs.WaitForEventAsync("RedisConnectionLost").DefaultTimeout();
            await b.Logs.WaitForEventAsync("RedisConnectionLost").DefaultTimeout();
            load.StartOutage();
            await load.WaitForAsync(load.Replies + RepliesPerPhase).DefaultTimeout();
            load.EndOutage();

            await _redis.RestartAsync();
            var channel = RedisCluster.Backplane(a).ChannelName;
            await Poll.UntilAsync(() => _redis.CommandAsync("PUBSUB", "NUMSUB", channel), r => r.Items![1].Integer == 2, "both servers to subscribe again");
            await load.WaitForAsync(load.Replies + RepliesPerPhase).DefaultTimeout();
        }
        finally
        {
            await stop.CancelAsync();
        }

        // Every loop ends cleanly: each request it sent got its own reply, in order, outage or not.
        await Task.WhenAll(loops).DefaultTimeout();
        Assert.Equal(load.Sent, load.Replies);
        Assert.True(load.OutageLatencies.Count >= RepliesPerPhase, $"{load.OutageLatencies.Count} requests answered during the outage");
        var p99 = Percentile(load.OutageLatencies, 0.99);
        Assert.True(p99 < s_outageP99Bound, $"p99 of local requests while Redis was down: {p99.TotalMilliseconds:0} ms (bound {s_outageP99Bound.TotalMilliseconds} ms)");

        // The cluster delivers again: A's room message reaches B's client.
        await a.Registry.Rooms(Lobby).EmitAsync("after", "the outage").DefaultTimeout();
        var (name, data) = await listener.ReceiveEventAsync().DefaultTimeout();
        Assert.Equal(("after", "the outage"), (name, data.GetString()));

        foreach (var worker in workers)
        {
            await worker.DisposeAsync();
        }
    }

    private static async Task RequestLoopAsync(ChatClient client, Load load, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            load.OnSent();
            var started = Stopwatch.GetTimestamp();
            await client.RequestAsync("name", "worker").DefaultTimeout();
            load.OnReply(Stopwatch.GetElapsedTime(started));
        }
    }

    /// <summary>Keeps the backplane busy: a room message every few milliseconds, to a room no one is in.</summary>
    private static async Task PublishLoopAsync(TestHost server, CancellationToken stop)
    {
        var tick = 0;
        using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(5));
        while (await WaitAsync(pace, stop))
        {
            await server.Registry.Rooms(Busy).EmitAsync("tick", ++tick).DefaultTimeout();
        }
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stop)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stop);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static TimeSpan Percentile(IReadOnlyList<TimeSpan> values, double p)
    {
        var sorted = values.Order().ToArray();
        return sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
    }

    /// <summary>Counts requests and replies, and records reply latencies while Redis is down.</summary>
    private sealed class Load
    {
        private readonly Lock _lock = new();
        private readonly List<TimeSpan> _outage = [];
        private readonly List<(int Target, TaskCompletionSource Done)> _waiters = [];
        private int _sent;
        private int _replies;
        private bool _inOutage;

        public int Sent => Volatile.Read(ref _sent);

        public int Replies => Volatile.Read(ref _replies);

        public IReadOnlyList<TimeSpan> OutageLatencies
        {
            get
            {
                lock (_lock)
                {
                    return [.. _outage];
                }
            }
        }

        public void OnSent() => Interlocked.Increment(ref _sent);

        public void OnReply(TimeSpan latency)
        {
            lock (_lock)
            {
                _replies++;
                if (_inOutage)
                {
                    _outage.Add(latency);
                }

                foreach (var waiter in _waiters.Where(w => _replies >= w.Target).ToList())
                {
                    _waiters.Remove(waiter);
                    waiter.Done.TrySetResult();
                }
            }
        }

        public void StartOutage()
        {
            lock (_lock)
            {
                _inOutage = true;
            }
        }

        public void EndOutage()
        {
            lock (_lock)
            {
                _inOutage = false;
            }
        }

        public Task WaitForAsync(int replies)
        {
            lock (_lock)
            {
                if (_replies >= replies)
                {
                    return Task.CompletedTask;
                }

                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiters.Add((replies, done));
                return done.Task;
            }
        }
    }
}
