using System.Buffers;
using System.Text.Json;

namespace WebSockets.Client.Internal;

/// <summary>Writes the messages of the event protocol (docs/protocol.md) as UTF-8 JSON.</summary>
internal static class ProtocolWriter
{
    public static byte[] Event(string eventName, object? data, Type dataType, long? id, JsonSerializerOptions options)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("event", eventName);
            writer.WritePropertyName("data");
            if (data is null)
            {
                // No metadata needed for null, so a trimmed app's resolver need not know the declared type.
                writer.WriteNullValue();
            }
            else
            {
                JsonSerializer.Serialize(writer, data, options.GetTypeInfo(dataType));
            }

            if (id is { } requestId)
            {
                writer.WriteNumber("id", requestId);
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static byte[] Reply(long id, object? data, Type? dataType, JsonSerializerOptions options)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("reply", id);
            writer.WritePropertyName("data");
            if (dataType is null || data is null)
            {
                writer.WriteNullValue();
            }
            else
            {
                JsonSerializer.Serialize(writer, data, options.GetTypeInfo(dataType));
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static byte[] ErrorReply(long id, string code, string message)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("reply", id);
            writer.WriteStartObject("error");
            writer.WriteString("code", code);
            writer.WriteString("message", message);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
