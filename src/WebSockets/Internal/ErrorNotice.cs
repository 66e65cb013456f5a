using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;

namespace WebSockets.Internal;

/// <summary>
/// The error notice sent to a client whose message could not be processed:
/// <c>{"event":"error","data":{"code":"…","message":"…"}}</c>. The connection stays open.
/// </summary>
internal static class ErrorNotice
{
    public const string BadJson = "bad_json";
    public const string BadData = "bad_data";
    public const string BinaryNotSupported = "binary_not_supported";
    public const string HandlerFailed = "handler_failed";

    public static SocketMessage Create(string code, string message)
    {
        var buffer = new ArrayBufferWriter<byte>(64 + message.Length);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("event", "error");
            writer.WriteStartObject("data");
            writer.WriteString("code", code);
            writer.WriteString("message", message);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        return new SocketMessage(WebSocketMessageType.Text, buffer.WrittenMemory);
    }
}
