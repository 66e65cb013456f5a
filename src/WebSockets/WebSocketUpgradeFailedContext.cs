using Microsoft.AspNetCore.Http;

namespace WebSockets;

/// <summary>
/// Describes a refused WebSocket upgrade, for <see cref="WebSocketEndpointOptions.OnUpgradeFailed"/>.
/// </summary>
public sealed class WebSocketUpgradeFailedContext
{
    /// <summary>Creates a context.</summary>
    /// <param name="httpContext">The refused request.</param>
    /// <param name="statusCode">The status code of the response.</param>
    /// <param name="reason">Why the upgrade was refused, in plain English.</param>
    public WebSocketUpgradeFailedContext(HttpContext httpContext, int statusCode, string reason)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        ArgumentNullException.ThrowIfNull(reason);
        HttpContext = httpContext;
        StatusCode = statusCode;
        Reason = reason;
    }

    /// <summary>Gets the refused request.</summary>
    public HttpContext HttpContext { get; }

    /// <summary>Gets the status code already set on the response: 403, 409, 426, 429 or 503.</summary>
    public int StatusCode { get; }

    /// <summary>Gets why the upgrade was refused.</summary>
    public string Reason { get; }
}
