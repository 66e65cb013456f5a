using System.Net.WebSockets;
using System.Text.Json;

namespace WebSockets.Internal;

/// <summary>Turns a value into the message that carries it: bytes as binary, text as text, anything else as JSON.</summary>
internal static class MessageFactory
{
    public static SocketMessage Create<T>(T value, JsonSerializerOptions options)
    {
        // typeof(T) checks fold away in each generic instantiation for value types.
        if (typeof(T) == typeof(SocketMessage))
        {
            return (SocketMessage)(object)value!;
        }

        if (typeof(T) == typeof(ReadOnlyMemory<byte>))
        {
            return SocketMessage.Binary(((ReadOnlyMemory<byte>)(object)value!).ToArray());
        }

        if (typeof(T) == typeof(Memory<byte>))
        {
            return SocketMessage.Binary(((Memory<byte>)(object)value!).ToArray());
        }

        if (typeof(T) == typeof(ArraySegment<byte>))
        {
            return SocketMessage.Binary(((ArraySegment<byte>)(object)value!).ToArray());
        }

        return CreateFromObject(value, typeof(T), options);
    }

    /// <summary>For values whose static type says nothing, such as a handler's object result.</summary>
    public static SocketMessage CreateFromObject(object? value, Type declaredType, JsonSerializerOptions options) => value switch
    {
        string text => SocketMessage.Text(text),
        byte[] bytes => SocketMessage.Binary(bytes),
        SocketMessage message => message,
        ReadOnlyMemory<byte> memory => SocketMessage.Binary(memory.ToArray()),
        Memory<byte> memory => SocketMessage.Binary(memory.ToArray()),
        ArraySegment<byte> segment => SocketMessage.Binary(segment.ToArray()),
        _ => new SocketMessage(WebSocketMessageType.Text, JsonSerializer.SerializeToUtf8Bytes(value, value?.GetType() ?? declaredType, options)),
    };
}
