using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

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
    /// <param name="value">The value.</param>
    /// <param name="declaredType">Its declared type, used when it is null.</param>
    /// <param name="options">The application's serializer options.</param>
    /// <param name="typeInfo">The metadata to serialize with instead of <paramref name="options"/>, or null.</param>
    public static SocketMessage CreateFromObject(object? value, Type declaredType, JsonSerializerOptions options, JsonTypeInfo? typeInfo = null) => value switch
    {
        string text => SocketMessage.Text(text),
        byte[] bytes => SocketMessage.Binary(bytes),
        SocketMessage message => message,
        ReadOnlyMemory<byte> memory => SocketMessage.Binary(memory.ToArray()),
        Memory<byte> memory => SocketMessage.Binary(memory.ToArray()),
        ArraySegment<byte> segment => SocketMessage.Binary(segment.ToArray()),
        _ => new SocketMessage(WebSocketMessageType.Text, JsonSerializer.SerializeToUtf8Bytes(value, typeInfo ?? options.GetTypeInfo(value?.GetType() ?? declaredType))),
    };
}
