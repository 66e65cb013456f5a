using System.Text;
using System.Threading.Channels;
using BenchmarkDotNet.Attributes;
using WebSockets.Internal;

namespace WebSockets.Benchmarks.Micro;

/// <summary>
/// One received text frame through the event dispatcher: parse + handler lookup + bind (deserialize the data) +
/// invoke. The connection is not started (no socket); the handlers complete synchronously.
/// </summary>
[MemoryDiagnoser]
public class RoutingBenchmarks
{
    private Fixture _fixture = null!;
    private EventDispatcher _dispatcher = null!;
    private SocketConnection _connection = null!;
    private ChannelReader<SocketMessage> _queue = null!;
    private SocketMessage _event;
    private SocketMessage _request;

    [GlobalSetup]
    public void Setup()
    {
        _fixture = new Fixture();
        _dispatcher = _fixture.Dispatcher;
        _connection = _fixture.CreateConnection();
        _queue = Fixture.QueueReader(_connection);
        _event = SocketMessage.Text("""{"event":"chat.send","data":{"room":"lobby","user":"ann","text":"hello everyone, how is it going?","sentAt":1700000000000}}""");
        _request = SocketMessage.Text("""{"event":"chat.echo","data":{"room":"lobby","user":"ann","text":"hello everyone, how is it going?","sentAt":1700000000000},"id":42}""");

        // Fail fast: an event must route without any reply or error notice, a request with exactly one reply.
        _dispatcher.HandleAsync(_connection, _event, CancellationToken.None).GetAwaiter().GetResult();
        if (_queue.TryRead(out var unexpected))
        {
            throw new InvalidOperationException($"Routing the event produced a frame: {unexpected.GetText()}");
        }

        _dispatcher.HandleAsync(_connection, _request, CancellationToken.None).GetAwaiter().GetResult();
        if (!_queue.TryRead(out var reply) || !reply.GetText().StartsWith("""{"reply":42,"data":{""", StringComparison.Ordinal) || _queue.TryRead(out _))
        {
            throw new InvalidOperationException($"The request did not produce exactly one reply: {reply.GetText()}");
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _fixture.Dispose();

    /// <summary><c>chat.send</c>, an event without reply: parse, look up, deserialize a ChatMessage, invoke.</summary>
    [Benchmark(Baseline = true)]
    public async Task RouteEvent() => await _dispatcher.HandleAsync(_connection, _event, CancellationToken.None);

    /// <summary>
    /// <c>chat.echo</c> with an id: the same, plus serializing the reply and queuing it. The reply is dequeued again
    /// (as the write pump would) so the queue never fills.
    /// </summary>
    [Benchmark]
    public async Task<int> RouteRequestWithReply()
    {
        await _dispatcher.HandleAsync(_connection, _request, CancellationToken.None);
        _queue.TryRead(out var reply);
        return reply.Data.Length;
    }
}
