namespace WebSockets.Client;

/// <summary>Where a <see cref="SocketClient"/> puts the token from <see cref="SocketClientOptions.AccessTokenProvider"/>.</summary>
public enum AccessTokenPlacement
{
    /// <summary>An <c>Authorization: Bearer &lt;token&gt;</c> header on the upgrade request.</summary>
    AuthorizationHeader,

    /// <summary>A query parameter named <see cref="SocketClientOptions.AccessTokenQueryName"/> (for servers that read it there, as browsers can't send headers).</summary>
    QueryString,
}
