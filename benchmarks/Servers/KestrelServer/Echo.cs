using System.Buffers;
using System.Net.WebSockets;

namespace KestrelServer;

/// <summary>The echo loop: each complete message is sent back unchanged, with its message type.</summary>
internal static class Echo
{
    private const int InitialBufferSize = 4 * 1024;
    private const int MaxMessageSize = 1024 * 1024;

    public static async Task RunAsync(WebSocket socket, CancellationToken cancellationToken)
    {
        var pool = ArrayPool<byte>.Shared;
        var buffer = pool.Rent(InitialBufferSize);
        try
        {
            while (true)
            {
                var count = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    if (count == buffer.Length)
                    {
                        if (buffer.Length >= MaxMessageSize)
                        {
                            await socket.CloseAsync(WebSocketCloseStatus.MessageTooBig, "Message too big.", cancellationToken);
                            return;
                        }

                        // Grow: the message does not fit; copy what has arrived into a bigger pooled buffer.
                        var bigger = pool.Rent(Math.Min(buffer.Length * 2, MaxMessageSize));
                        buffer.AsSpan(0, count).CopyTo(bigger);
                        pool.Return(buffer);
                        buffer = bigger;
                    }

                    result = await socket.ReceiveAsync(buffer.AsMemory(count), cancellationToken);
                    count += result.Count;
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseOutputAsync(socket.CloseStatus ?? WebSocketCloseStatus.NormalClosure, socket.CloseStatusDescription, cancellationToken);
                    return;
                }

                await socket.SendAsync(buffer.AsMemory(0, count), result.MessageType, endOfMessage: true, cancellationToken);

                if (buffer.Length > InitialBufferSize)
                {
                    // Shrink back after a large message, so an idle connection holds only the small buffer.
                    pool.Return(buffer);
                    buffer = pool.Rent(InitialBufferSize);
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
            // The client went away without a close handshake.
        }
        finally
        {
            pool.Return(buffer);
        }
    }
}
