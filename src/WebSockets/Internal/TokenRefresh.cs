using System.Text.Json;

namespace WebSockets.Internal;

/// <summary>The built-in <c>$auth</c> request of every event namespace: a new token without reconnecting.</summary>
internal static class TokenRefresh
{
    public const string Event = "$auth";

    public static Task Handle(ISocketConnection connection, JsonElement data, CancellationToken cancellationToken)
        => ((SocketConnection)connection).RefreshAuthenticationAsync(data, cancellationToken);
}
