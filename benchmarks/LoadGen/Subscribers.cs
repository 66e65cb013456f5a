using System.Net.WebSockets;

namespace LoadGen;

/// <summary>Told about every delivery; implementations must be cheap and thread-safe.</summary>
public abstract class DeliverySink
{
    /// <summary>The subscriber's count went from <paramref name="before"/> to <paramref name="after"/>.</summary>
    public abstract void OnDelivered(Subscriber subscriber, long before, long after);

    public virtual void OnClosed(Subscriber subscriber, Exception? error)
    {
    }
}

/// <summary>A sink that only counts (idle).</summary>
public sealed class NullSink : DeliverySink
{
    public override void OnDelivered(Subscriber subscriber, long before, long after)
    {
    }
}

/// <summary>
/// One /ws/broadcast connection and its receive loop. A delivery is one WebSocket message (library,
/// kestrel) or one "msg" invocation record (SignalR); everything else (pings, …) is skipped.
/// </summary>
public sealed class Subscriber(int index, ClientWebSocket socket, HubScanner? hub, byte[] buffer)
{
    private long _received;

    public int Index { get; } = index;

    public ClientWebSocket Socket { get; } = socket;

    public HubScanner? Hub { get; } = hub;

    public long Received => Volatile.Read(ref _received);

    public bool Closed { get; private set; }

    public async Task RunAsync(DeliverySink sink)
    {
        await Task.Yield();
        Exception? error = null;
        try
        {
            if (Hub is not null)
            {
                // Records that arrived together with the handshake response.
                Deliver(sink, Hub.TakeInvocations());
            }

            while (true)
            {
                var r = await Socket.ReceiveAsync(buffer.AsMemory(), CancellationToken.None);
                if (r.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }

                if (Hub is not null)
                {
                    Hub.Feed(buffer.AsSpan(0, r.Count));
                    Deliver(sink, Hub.TakeInvocations());
                }
                else if (r.EndOfMessage)
                {
                    Deliver(sink, 1);
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException or HubProtocolException)
        {
            error = e;
        }
        finally
        {
            Closed = true;
            sink.OnClosed(this, error);
        }
    }

    private void Deliver(DeliverySink sink, int count)
    {
        if (count == 0)
        {
            return;
        }

        var before = _received;
        var after = before + count;
        Volatile.Write(ref _received, after);
        sink.OnDelivered(this, before, after);
    }
}

/// <summary>
/// SignalR's server closes a connection it hasn't heard from for ClientTimeoutInterval (30 s), so idle
/// hub subscribers send a hub ping every 15 s, like the real client. Subscribers never send anything
/// else after the handshake, so these are the only sends on their sockets.
/// </summary>
public static class HubKeepAlive
{
    public static async Task RunAsync(IReadOnlyList<Subscriber?> subscribers, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(15));
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                var next = -1;

                async Task Worker()
                {
                    int i;
                    while ((i = Interlocked.Increment(ref next)) < subscribers.Count && !ct.IsCancellationRequested)
                    {
                        var s = subscribers[i];
                        if (s is null || s.Closed || s.Socket.State != WebSocketState.Open)
                        {
                            continue;
                        }

                        try
                        {
                            await s.Socket.SendAsync(HubScanner.Ping, WebSocketMessageType.Text, true, CancellationToken.None);
                        }
                        catch (Exception e) when (e is WebSocketException or ObjectDisposedException or IOException or InvalidOperationException)
                        {
                        }
                    }
                }

                var workers = new Task[Math.Min(64, Math.Max(1, subscribers.Count))];
                for (var w = 0; w < workers.Length; w++)
                {
                    workers[w] = Worker();
                }

                await Task.WhenAll(workers);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
