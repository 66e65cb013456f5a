using System.Buffers;
using System.Collections.Concurrent;
using System.Net.WebSockets;

namespace KestrelServer;

/// <summary>A broadcast subscriber: its socket and the lock that keeps its sends one at a time.</summary>
internal sealed class Subscriber(WebSocket socket)
{
    public WebSocket Socket { get; } = socket;

    public SemaphoreSlim SendLock { get; } = new(1, 1);
}

/// <summary>The live /ws/broadcast connections.</summary>
internal sealed class Subscribers
{
    private readonly ConcurrentDictionary<Guid, Subscriber> _subscribers = new();

    public int Count => _subscribers.Count;

    /// <summary>Keeps the socket as a subscriber until the client closes it; anything it sends is discarded.</summary>
    public async Task RunAsync(WebSocket socket, CancellationToken cancellationToken)
    {
        var id = Guid.NewGuid();
        var subscriber = new Subscriber(socket);
        _subscribers[id] = subscriber;
        var buffer = ArrayPool<byte>.Shared.Rent(1024);
        try
        {
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer.AsMemory(), cancellationToken);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    _subscribers.TryRemove(id, out _);

                    // A broadcast may be sending right now: close under the send lock.
                    await subscriber.SendLock.WaitAsync(cancellationToken);
                    try
                    {
                        await socket.CloseOutputAsync(socket.CloseStatus ?? WebSocketCloseStatus.NormalClosure, socket.CloseStatusDescription, cancellationToken);
                    }
                    finally
                    {
                        subscriber.SendLock.Release();
                    }

                    return;
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
            // The client went away without a close handshake.
        }
        finally
        {
            _subscribers.TryRemove(id, out _);
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Sends one text message to every subscriber concurrently and waits for all the sends.</summary>
    public Task SendToAllAsync(ReadOnlyMemory<byte> payload)
    {
        var sends = new List<Task>(_subscribers.Count);
        foreach (var (id, subscriber) in _subscribers)
        {
            sends.Add(SendAsync(id, subscriber, payload));
        }

        return Task.WhenAll(sends);
    }

    private async Task SendAsync(Guid id, Subscriber subscriber, ReadOnlyMemory<byte> payload)
    {
        await subscriber.SendLock.WaitAsync();
        try
        {
            await subscriber.Socket.SendAsync(payload, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
        }
        catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or OperationCanceledException)
        {
            // A failed subscriber is dropped; the others still get the message.
            _subscribers.TryRemove(id, out _);
        }
        finally
        {
            subscriber.SendLock.Release();
        }
    }
}
