using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace WebSockets.Tests.Infrastructure;

internal readonly record struct ReceivedMessage(WebSocketMessageType Type, byte[] Data)
{
    public string Text => Encoding.UTF8.GetString(Data);

    public JsonElement Json => JsonDocument.Parse(Data).RootElement;
}

internal static class WebSocketClientExtensions
{
    public static Task SendTextAsync(this WebSocket socket, string text)
        => socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None).DefaultTimeout();

    public static Task SendBinaryAsync(this WebSocket socket, byte[] data)
        => socket.SendAsync(data, WebSocketMessageType.Binary, true, CancellationToken.None).DefaultTimeout();

    /// <summary>Receives one whole message; a close frame comes back as Type == Close.</summary>
    public static async Task<ReceivedMessage> ReceiveMessageAsync(this WebSocket socket)
    {
        var buffer = new byte[8192];
        using var stream = new MemoryStream();
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, CancellationToken.None).DefaultTimeout();
            stream.Write(buffer, 0, result.Count);
            if (result.MessageType == WebSocketMessageType.Close || result.EndOfMessage)
            {
                return new ReceivedMessage(result.MessageType, stream.ToArray());
            }
        }
    }

    public static async Task<string> ReceiveTextAsync(this WebSocket socket)
    {
        var message = await socket.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Text, message.Type);
        return message.Text;
    }

    /// <summary>Reads until the server's close frame arrives, skipping data; returns the close status.</summary>
    public static async Task<WebSocketCloseStatus?> ReceiveCloseAsync(this WebSocket socket)
    {
        while (true)
        {
            var message = await socket.ReceiveMessageAsync();
            if (message.Type == WebSocketMessageType.Close)
            {
                return socket.CloseStatus;
            }
        }
    }
}
