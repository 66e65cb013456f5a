using Microsoft.AspNetCore.SignalR;

namespace SignalRServer;

/// <summary>The one hub, mapped at /ws/echo and /ws/broadcast.</summary>
public sealed class BenchHub(SubscriberCounter subscribers) : Hub
{
    public const string BroadcastPath = "/ws/broadcast";

    private static readonly object s_subscriberKey = new();

    /// <summary>Returns its argument: the echo round trip.</summary>
    public string Echo(string message) => message;

    public override Task OnConnectedAsync()
    {
        // Only connections made at /ws/broadcast count as subscribers in the /broadcast reply
        // (Clients.All still reaches every connection of the hub, at either path).
        if (Context.GetHttpContext()?.Request.Path.StartsWithSegments(BroadcastPath) == true)
        {
            Context.Items[s_subscriberKey] = true;
            subscribers.Increment();
        }

        return base.OnConnectedAsync();
    }

    public override Task OnDisconnectedAsync(Exception? exception)
    {
        if (Context.Items.Remove(s_subscriberKey))
        {
            subscribers.Decrement();
        }

        return base.OnDisconnectedAsync(exception);
    }
}

/// <summary>The number of live /ws/broadcast connections.</summary>
public sealed class SubscriberCounter
{
    private int _count;

    public int Count => Volatile.Read(ref _count);

    public void Increment() => Interlocked.Increment(ref _count);

    public void Decrement() => Interlocked.Decrement(ref _count);
}

/// <summary>The reply of <c>GET /broadcast</c>.</summary>
internal sealed record BroadcastResult(int Recipients, int Messages, int Size, double ElapsedMs)
{
    public const int MaxSize = 16 << 20;
}
