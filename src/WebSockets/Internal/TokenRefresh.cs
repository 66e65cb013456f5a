using System.Text.Json;

namespace WebSockets.Internal;

/// <summary>The built-in <c>$auth</c> request of every event namespace: a new token without reconnecting.</summary>
internal static class TokenRefresh
{
    public const string Event = "$auth";

    /// <summary>The <c>$auth</c> handler, bound without reflection. Its data is a <see cref="JsonElement"/>, parsed as is.</summary>
    public static HandlerSource Handler()
    {
        Func<ISocketConnection, JsonElement, CancellationToken, Task> handler = Handle;
        return new HandlerSource(handler, (_, _) => TypedHandler.Create(handler));
    }

    public static Task Handle(ISocketConnection connection, JsonElement data, CancellationToken cancellationToken)
        => ((SocketConnection)connection).RefreshAuthenticationAsync(data, cancellationToken);
}
