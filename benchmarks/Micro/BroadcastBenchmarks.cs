using System.Threading.Channels;
using BenchmarkDotNet.Attributes;
using WebSockets.Internal;

namespace WebSockets.Benchmarks.Micro;

/// <summary>
/// A broadcast to every connection of a namespace: what the caller pays to queue one message to N send queues.
/// The connections are real SocketConnections (not started, so nothing drains them during an iteration); each
/// iteration runs a fixed number of broadcasts into queues large enough to hold them all, and
/// [IterationCleanup] empties the queues outside the measured time. Allocated bytes per broadcast must not grow
/// with <see cref="Recipients"/>.
/// </summary>
[MemoryDiagnoser]
[InvocationCount(Broadcasts)]
public class BroadcastBenchmarks
{
    /// <summary>Broadcasts per iteration: also how many messages each queue holds at the end of one.</summary>
    private const int Broadcasts = 8192;

    private Fixture _fixture = null!;
    private ChannelReader<SocketMessage>[] _queues = [];
    private SocketMessage _message;
    private Tick _tick = null!;

    [Params(10, 100, 1000)]
    public int Recipients { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        // Room for a whole iteration's broadcasts: no send ever waits, drops or closes.
        _fixture = new Fixture(sendQueueCapacity: Broadcasts * 2);
        _queues = new ChannelReader<SocketMessage>[Recipients];
        for (var i = 0; i < Recipients; i++)
        {
            var connection = _fixture.CreateConnection();
            _fixture.Namespace.Add(connection);
            connection.IsRegistered = true;
            _fixture.Registry.JoinAsync(connection, "lobby").AsTask().GetAwaiter().GetResult();
            _queues[i] = Fixture.QueueReader(connection);
        }

        _message = EventMessage.Event("chat.message", new ChatMessage("lobby", "ann", "hello everyone, how is it going?", 1_700_000_000_000), _fixture.Registry.Options.JsonSerializerOptions);
        _tick = new Tick(1, 42.5, "sensor-7");

        // Fail fast: one broadcast reaches every queue exactly once.
        _fixture.Registry.Namespace("chat").SendAsync(_message).AsTask().GetAwaiter().GetResult();
        if (_fixture.Namespace.Count != Recipients || Drain() != Recipients)
        {
            throw new InvalidOperationException("The broadcast did not reach every connection once.");
        }

        // With a fixed InvocationCount there is no pilot stage, and for 10 recipients the whole run lasts less than
        // the tiering delay: warm both paths up to tier-1 code first, or the table shows tier-0 artifacts (64 B for
        // the ConcurrentDictionary enumerator, which tier-1 code on .NET 10 allocates on the stack).
        var warmUp = System.Diagnostics.Stopwatch.StartNew();
        while (warmUp.ElapsedMilliseconds < 1000)
        {
            for (var i = 0; i < 256; i++)
            {
                SendToNamespace().GetAwaiter().GetResult();
                EmitToNamespace().GetAwaiter().GetResult();
                EmitToRoom().GetAwaiter().GetResult();
            }

            Drain();
        }
    }

    [IterationCleanup]
    public void EmptyQueues() => Drain();

    [GlobalCleanup]
    public void Cleanup() => _fixture.Dispose();

    /// <summary>A pre-serialized message to the whole namespace: one queue write per recipient.</summary>
    [Benchmark(Baseline = true)]
    public async Task SendToNamespace() => await _fixture.Registry.Namespace("chat").SendAsync(_message);

    /// <summary>An event to the whole namespace: serialized once, then queued to every recipient.</summary>
    [Benchmark]
    public async Task EmitToNamespace() => await _fixture.Registry.Namespace("chat").EmitAsync("tick", _tick);

    /// <summary>An event to a room that every connection joined: the same path as a namespace, through the room index.</summary>
    [Benchmark]
    public async Task EmitToRoom() => await _fixture.Registry.Rooms("lobby").EmitAsync("tick", _tick);

    private int Drain()
    {
        var count = 0;
        foreach (var queue in _queues)
        {
            while (queue.TryRead(out _))
            {
                count++;
            }
        }

        return count;
    }
}
