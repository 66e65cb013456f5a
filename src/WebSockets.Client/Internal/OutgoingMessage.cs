using System.Net.WebSockets;

namespace WebSockets.Client.Internal;

/// <summary>One message in the outbox.</summary>
/// <param name="type">Text or binary.</param>
/// <param name="data">The payload; never changed once queued.</param>
/// <param name="expiresAt">When the message becomes stale, or <see langword="null"/> for never.</param>
/// <param name="generation">The connection the message belongs to (replies to server requests), or 0 for any.</param>
/// <param name="request">The request this message carries, if any.</param>
internal sealed class OutgoingMessage(WebSocketMessageType type, ReadOnlyMemory<byte> data, DateTimeOffset? expiresAt, int generation, PendingRequest? request)
{
    public WebSocketMessageType Type { get; } = type;

    public ReadOnlyMemory<byte> Data { get; } = data;

    public DateTimeOffset? ExpiresAt { get; } = expiresAt;

    public int Generation { get; } = generation;

    public PendingRequest? Request { get; } = request;

    public bool IsExpired(DateTimeOffset now) => ExpiresAt is { } expiresAt && now >= expiresAt;

    /// <summary>A request whose caller gave up, or a reply to a request of an earlier connection: nobody wants it any more.</summary>
    public bool IsObsolete(int currentGeneration)
        => Request is { Task.IsCompleted: true } || (Generation != 0 && Generation != currentGeneration);
}
