using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace WebSockets.Client;

/// <summary>A complete message received by a <see cref="SocketClient"/> and passed to <see cref="SocketClient.OnMessage"/>.</summary>
public readonly struct SocketClientMessage
{
    internal SocketClientMessage(WebSocketMessageType messageType, ReadOnlyMemory<byte> data)
    {
        MessageType = messageType;
        Data = data;
    }

    /// <summary>Gets whether the message came as a text or a binary frame.</summary>
    public WebSocketMessageType MessageType { get; }

    /// <summary>Gets the payload (UTF-8 for text). The memory is the handler's own copy.</summary>
    public ReadOnlyMemory<byte> Data { get; }

    /// <summary>Gets whether the message is text.</summary>
    public bool IsText => MessageType == WebSocketMessageType.Text;

    /// <summary>Decodes the payload as UTF-8 text.</summary>
    public string GetText() => Encoding.UTF8.GetString(Data.Span);

    /// <summary>Deserializes the payload as JSON.</summary>
    /// <typeparam name="T">The type to deserialize.</typeparam>
    /// <param name="options">
    /// The serializer options, whose resolver must know <typeparamref name="T"/>. <see langword="null"/> uses the web
    /// defaults (as <see cref="JsonSerializerOptions.Web"/>), which deserialize by reflection and so need reflection-based
    /// serialization enabled: in trimmed and Native AOT apps, pass options with a <c>JsonSerializerContext</c>.
    /// </param>
    public T? GetJson<T>(JsonSerializerOptions? options = null)
        => JsonSerializer.Deserialize(Data.Span, (JsonTypeInfo<T>)(options ?? Internal.JsonDefaults.Web).GetTypeInfo(typeof(T)));
}
