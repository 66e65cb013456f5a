using BenchmarkDotNet.Attributes;
using WebSockets.Internal;

namespace WebSockets.Benchmarks.Micro;

/// <summary>
/// The compiled handler binding against a direct call of the same delegate: what the expression-compiled
/// adapter (argument casts from HandlerContext, result wrapped in ValueTask&lt;object?&gt;) costs per message.
/// </summary>
[MemoryDiagnoser]
public class BindingBenchmarks
{
    private Fixture _fixture = null!;
    private Func<ISocketConnection, ChatMessage, CancellationToken, string> _handler = null!;
    private BoundHandler _bound = null!;
    private ISocketConnection _connection = null!;
    private ChatMessage _message = null!;
    private HandlerContext _reusedContext = null!;

    [GlobalSetup]
    public void Setup()
    {
        _fixture = new Fixture();
        _connection = _fixture.CreateConnection();
        _message = new ChatMessage("lobby", "ann", "hello everyone, how is it going?", 1_700_000_000_000);
        _handler = (ISocketConnection c, ChatMessage m, CancellationToken ct) => m.Text;
        _bound = HandlerBinder.Bind(_handler.Method, _handler.Target, null, _fixture.Services, rawMessages: false, "benchmark handler");
        if (_bound.Kind != MessageKind.Json || _bound.MessageType != typeof(ChatMessage) || _bound.NeedsScope)
        {
            throw new InvalidOperationException("The handler did not bind as expected.");
        }

        _reusedContext = new HandlerContext { Connection = _connection, Message = _message, Token = CancellationToken.None };
    }

    [GlobalCleanup]
    public void Cleanup() => _fixture.Dispose();

    /// <summary>The delegate called directly.</summary>
    [Benchmark(Baseline = true)]
    public string Direct() => _handler(_connection, _message, CancellationToken.None);

    /// <summary>The compiled BoundHandler with a new HandlerContext, as the dispatcher calls it per message.</summary>
    [Benchmark]
    public object? Bound() => _bound.Invoke(new HandlerContext
    {
        Connection = _connection,
        Message = _message,
        Token = CancellationToken.None,
    }).Result;

    /// <summary>The compiled BoundHandler alone (context reused): the adapter without the context allocation.</summary>
    [Benchmark]
    public object? BoundReusedContext() => _bound.Invoke(_reusedContext).Result;
}
