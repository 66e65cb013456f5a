using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace WebSockets.Internal;

/// <summary>
/// Writes protocol frames. Each frame is built in a reused per-thread buffer and copied out once, so a broadcast
/// costs one serialization and one array whatever the number of targets.
/// </summary>
internal static class EventMessage
{
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    /// <summary>{"event":name,"data":data}</summary>
    public static SocketMessage Event<T>(string eventName, T data, JsonSerializerOptions options)
    {
        var writer = Rent(out var buffer);
        writer.WriteStartObject();
        writer.WriteString("event"u8, eventName);
        writer.WritePropertyName("data"u8);
        WriteValue(writer, data, options);
        writer.WriteEndObject();
        return Return(writer, buffer);
    }

    /// <summary>{"event":name,"data":data,"id":id}</summary>
    public static SocketMessage Request(string eventName, object? data, long id, JsonSerializerOptions options)
    {
        var writer = Rent(out var buffer);
        writer.WriteStartObject();
        writer.WriteString("event"u8, eventName);
        writer.WritePropertyName("data"u8);
        WriteValue(writer, data, options);
        writer.WriteNumber("id"u8, id);
        writer.WriteEndObject();
        return Return(writer, buffer);
    }

    /// <summary>{"reply":id,"data":result}</summary>
    public static SocketMessage Reply(long id, object? result, Type declaredType, JsonSerializerOptions options, JsonTypeInfo? typeInfo = null)
    {
        var writer = Rent(out var buffer);
        writer.WriteStartObject();
        writer.WriteNumber("reply"u8, id);
        writer.WritePropertyName("data"u8);
        if (result is null)
        {
            writer.WriteNullValue();
        }
        else
        {
            JsonSerializer.Serialize(writer, result, typeInfo ?? options.GetTypeInfo(result.GetType() == declaredType || declaredType == typeof(void) ? result.GetType() : declaredType));
        }

        writer.WriteEndObject();
        return Return(writer, buffer);
    }

    /// <summary>{"reply":id,"error":{"code":code,"message":message}}</summary>
    public static SocketMessage ErrorReply(long id, string code, string message)
    {
        var writer = Rent(out var buffer);
        writer.WriteStartObject();
        writer.WriteNumber("reply"u8, id);
        writer.WriteStartObject("error"u8);
        writer.WriteString("code"u8, code);
        writer.WriteString("message"u8, message);
        writer.WriteEndObject();
        writer.WriteEndObject();
        return Return(writer, buffer);
    }

    /// <summary>{"event":"error","data":{"code":code,"message":message,"id":id}}</summary>
    public static SocketMessage ErrorNotice(string code, string message, long? id = null)
    {
        var writer = Rent(out var buffer);
        writer.WriteStartObject();
        writer.WriteString("event"u8, "error"u8);
        writer.WriteStartObject("data"u8);
        writer.WriteString("code"u8, code);
        writer.WriteString("message"u8, message);
        if (id is { } value)
        {
            writer.WriteNumber("id"u8, value);
        }

        writer.WriteEndObject();
        writer.WriteEndObject();
        return Return(writer, buffer);
    }

    /// <summary>The data of an event alone, for batching.</summary>
    public static byte[] Data<T>(T data, JsonSerializerOptions options)
    {
        var writer = Rent(out var buffer);
        WriteValue(writer, data, options);
        writer.Flush();
        var bytes = buffer.WrittenSpan.ToArray();
        writer.Reset();
        buffer.ResetWrittenCount();
        return bytes;
    }

    /// <summary>{"event":"batch_"+name,"data":[item,item,…]} from already-serialized items.</summary>
    public static SocketMessage Batch(string batchEventName, List<byte[]> items)
    {
        var writer = Rent(out var buffer);
        writer.WriteStartObject();
        writer.WriteString("event"u8, batchEventName);
        writer.WriteStartArray("data"u8);
        foreach (var item in items)
        {
            writer.WriteRawValue(item, skipInputValidation: true);
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
        return Return(writer, buffer);
    }

    private static void WriteValue<T>(Utf8JsonWriter writer, T value, JsonSerializerOptions options)
    {
        if (value is null)
        {
            writer.WriteNullValue();
        }
        else if (typeof(T) == typeof(object))
        {
            JsonSerializer.Serialize(writer, value, options.GetTypeInfo(value.GetType()));
        }
        else
        {
            JsonSerializer.Serialize(writer, value, (JsonTypeInfo<T>)options.GetTypeInfo(typeof(T)));
        }
    }

    private static Utf8JsonWriter Rent(out ArrayBufferWriter<byte> buffer)
    {
        buffer = t_buffer ??= new ArrayBufferWriter<byte>(256);
        var writer = t_writer;
        if (writer is null)
        {
            t_writer = writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = false });
        }
        else
        {
            writer.Reset(buffer);
        }

        // A serializer that throws must not leave the next frame with a half-written prefix.
        buffer.ResetWrittenCount();
        return writer;
    }

    private static SocketMessage Return(Utf8JsonWriter writer, ArrayBufferWriter<byte> buffer)
    {
        writer.Flush();
        var message = new SocketMessage(WebSocketMessageType.Text, buffer.WrittenSpan.ToArray());
        writer.Reset();
        buffer.ResetWrittenCount();
        if (buffer.Capacity > 64 * 1024)
        {
            // Don't keep a huge buffer per thread after one big message.
            t_buffer = null;
            t_writer = null;
        }

        return message;
    }
}
