using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace WebSockets.Client.Internal;

/// <summary>A handler registered with <c>On</c>, its data binding and reply type erased.</summary>
/// <param name="invoke">Binds the data, runs the handler and returns its reply (or <see langword="null"/>).</param>
/// <param name="replyType">The type of the reply, or <see langword="null"/> for a handler that returns none.</param>
internal sealed class EventHandlerEntry(Func<JsonElement, CancellationToken, ValueTask<object?>> invoke, Type? replyType)
{
    public Func<JsonElement, CancellationToken, ValueTask<object?>> Invoke { get; } = invoke;

    public Type? ReplyType { get; } = replyType;

    public static T? Bind<T>(JsonElement data, JsonSerializerOptions options)
        => data.ValueKind == JsonValueKind.Undefined ? default : data.Deserialize((JsonTypeInfo<T>)options.GetTypeInfo(typeof(T)));
}
