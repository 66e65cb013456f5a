using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace WebSockets;

/// <summary>
/// One complete WebSocket message: its payload and whether it travels as a text or a binary frame.
/// </summary>
/// <remarks>
/// A <see cref="SocketMessage"/> is what the send queue of every connection holds. It does not copy its payload:
/// the same bytes can be queued to any number of connections, which is how a broadcast serializes once.
/// Do not change an array after wrapping it in a message that may still be queued.
/// </remarks>
public readonly struct SocketMessage : IEquatable<SocketMessage>
{
    /// <summary>
    /// Creates a message over <paramref name="data"/> without copying it.
    /// </summary>
    /// <param name="messageType">Either <see cref="WebSocketMessageType.Text"/> or <see cref="WebSocketMessageType.Binary"/>.</param>
    /// <param name="data">The payload. Text payloads must be UTF-8.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="messageType"/> is <see cref="WebSocketMessageType.Close"/>.</exception>
    public SocketMessage(WebSocketMessageType messageType, ReadOnlyMemory<byte> data)
    {
        if (messageType is not (WebSocketMessageType.Text or WebSocketMessageType.Binary))
        {
            throw new ArgumentOutOfRangeException(nameof(messageType), messageType, "A message is either Text or Binary.");
        }

        MessageType = messageType;
        Data = data;
    }

    /// <summary>Gets whether the message is sent as a text or a binary frame.</summary>
    public WebSocketMessageType MessageType { get; }

    /// <summary>Gets the payload. For text messages, this is UTF-8.</summary>
    public ReadOnlyMemory<byte> Data { get; }

    /// <summary>Gets whether this is a text message.</summary>
    public bool IsText => MessageType == WebSocketMessageType.Text;

    /// <summary>Creates a text message from a string, encoded once as UTF-8.</summary>
    /// <param name="text">The text to send.</param>
    public static SocketMessage Text(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new SocketMessage(WebSocketMessageType.Text, Encoding.UTF8.GetBytes(text));
    }

    /// <summary>Creates a binary message over <paramref name="data"/> without copying it.</summary>
    /// <param name="data">The payload.</param>
    public static SocketMessage Binary(ReadOnlyMemory<byte> data) => new(WebSocketMessageType.Binary, data);

    /// <summary>Creates a text message holding <paramref name="value"/> serialized as JSON, once.</summary>
    /// <typeparam name="T">The type to serialize.</typeparam>
    /// <param name="value">The value to serialize.</param>
    /// <param name="options">
    /// The serializer options, whose resolver must know <typeparamref name="T"/>. <see langword="null"/> uses the web
    /// defaults (as <see cref="JsonSerializerOptions.Web"/>), which serialize by reflection and so need reflection-based
    /// serialization enabled: in trimmed and Native AOT apps, pass options with a <c>JsonSerializerContext</c>.
    /// </param>
    public static SocketMessage Json<T>(T value, JsonSerializerOptions? options = null)
        => new(WebSocketMessageType.Text, JsonSerializer.SerializeToUtf8Bytes(value, (JsonTypeInfo<T>)(options is null ? Internal.JsonDefaults.Web : Internal.JsonDefaults.WithResolver(options)).GetTypeInfo(typeof(T))));

    /// <summary>Decodes the payload as UTF-8.</summary>
    /// <returns>The payload as a string.</returns>
    public string GetText() => Encoding.UTF8.GetString(Data.Span);

    /// <inheritdoc />
    public bool Equals(SocketMessage other) => MessageType == other.MessageType && Data.Equals(other.Data);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is SocketMessage other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(MessageType, Data);

    /// <summary>Compares two messages by type and by payload identity (not content).</summary>
    /// <param name="left">The first message.</param>
    /// <param name="right">The second message.</param>
    public static bool operator ==(SocketMessage left, SocketMessage right) => left.Equals(right);

    /// <summary>Compares two messages by type and by payload identity (not content).</summary>
    /// <param name="left">The first message.</param>
    /// <param name="right">The second message.</param>
    public static bool operator !=(SocketMessage left, SocketMessage right) => !left.Equals(right);
}
