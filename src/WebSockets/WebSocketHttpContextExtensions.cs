using Microsoft.AspNetCore.Http.Features;
using WebSockets.Internal;

namespace Microsoft.AspNetCore.Http;

/// <summary>Authentication helpers for WebSocket upgrade requests.</summary>
public static class WebSocketHttpContextExtensions
{
    /// <summary>The query parameter that carries a bearer token for browsers, which cannot set headers on a WebSocket.</summary>
    public const string AccessTokenQueryParameter = "access_token";

    /// <summary>
    /// Gets the bearer token that a browser put in the <c>access_token</c> query parameter of a WebSocket upgrade
    /// request to an endpoint mapped with <c>MapWebSocketEndpoint</c> or <c>MapWebSocketController</c>. Returns
    /// <see langword="null"/> for every other request, so tokens in the URLs of ordinary pages are never accepted.
    /// Call it from JWT bearer's <c>OnMessageReceived</c> event:
    /// <code>
    /// options.Events = new JwtBearerEvents
    /// {
    ///     OnMessageReceived = context =>
    ///     {
    ///         context.Token ??= context.HttpContext.GetWebSocketAccessToken();
    ///         return Task.CompletedTask;
    ///     },
    /// };
    /// </code>
    /// It needs the endpoint, so authentication must run after routing (as <c>WebApplication</c> arranges by default).
    /// </summary>
    /// <param name="context">The request.</param>
    /// <returns>The token, or <see langword="null"/>.</returns>
    public static string? GetWebSocketAccessToken(this HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.GetEndpoint()?.Metadata.GetMetadata<WebSocketEndpointMetadata>() is null || !IsWebSocketUpgrade(context))
        {
            return null;
        }

        var token = context.Request.Query[AccessTokenQueryParameter];
        return token.Count == 1 && !string.IsNullOrEmpty(token[0]) ? token[0] : null;
    }

    /// <summary>
    /// Whether the request asks for a WebSocket. Authentication runs before the endpoint's WebSocket middleware has
    /// added its feature, so the request itself is looked at: an HTTP/1.1 upgrade or an HTTP/2 extended CONNECT.
    /// </summary>
    private static bool IsWebSocketUpgrade(HttpContext context)
    {
        if (context.WebSockets.IsWebSocketRequest)
        {
            return true;
        }

        if (context.Features.Get<IHttpExtendedConnectFeature>() is { IsExtendedConnect: true } connect)
        {
            return string.Equals(connect.Protocol, "websocket", StringComparison.OrdinalIgnoreCase);
        }

        return HttpMethods.IsGet(context.Request.Method)
            && context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true }
            && context.Request.Headers.Upgrade.ToString().Contains("websocket", StringComparison.OrdinalIgnoreCase);
    }
}
