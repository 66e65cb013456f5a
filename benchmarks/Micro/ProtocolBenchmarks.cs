using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using WebSockets.Internal;

namespace WebSockets.Benchmarks.Micro;

/// <summary>The event protocol's codec: parsing a request frame, writing an event and a reply.</summary>
[MemoryDiagnoser]
public class ProtocolBenchmarks
{
    private byte[] _requestFrame = [];
    private ChatMessage _chat = null!;
    private object _result = null!;
    private JsonSerializerOptions _options = null!;

    [GlobalSetup]
    public void Setup()
    {
        _requestFrame = Encoding.UTF8.GetBytes("""{"event":"room.join","data":{"room":"lobby","name":"ann"},"id":42}""");
        _chat = new ChatMessage("lobby", "ann", "hello everyone, how is it going?", 1_700_000_000_000);
        _result = new ChatMessage("lobby", "bob", "fine, thanks", 1_700_000_000_500);

        // The registry's default: a copy of JsonSerializerOptions.Web.
        _options = new SocketRegistryOptions().JsonSerializerOptions;

        // Fail fast if the inputs don't exercise the success path.
        if (!EventEnvelope.TryParse(_requestFrame, out var envelope, out _, out _) || envelope.Id != 42 || envelope.Event != "room.join")
        {
            throw new InvalidOperationException("The request frame did not parse.");
        }
    }

    /// <summary>Parse <c>{"event":"room.join","data":{…},"id":42}</c>: event name, data slice, id.</summary>
    [Benchmark]
    public long ParseRequest()
    {
        EventEnvelope.TryParse(_requestFrame, out var envelope, out _, out _);
        return envelope.Id.GetValueOrDefault() + envelope.Data.Length;
    }

    /// <summary>Write <c>{"event":"chat.message","data":{…}}</c> into a new array (what every emit/broadcast does once).</summary>
    [Benchmark]
    public SocketMessage SerializeEvent() => EventMessage.Event("chat.message", _chat, _options);

    /// <summary>Write <c>{"reply":42,"data":{…}}</c> for a handler's result (what every request costs).</summary>
    [Benchmark]
    public SocketMessage SerializeReply() => EventMessage.Reply(42, _result, typeof(ChatMessage), _options);
}
