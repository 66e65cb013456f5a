using System.Buffers.Text;
using System.Security.Cryptography;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace WebSockets.Internal;

/// <summary>What one mapped endpoint needs at run time, copied from its options when it was mapped.</summary>
internal sealed class EndpointRuntime
{
    public EndpointRuntime(WebSocketEndpointOptions options, NamespaceState ns, IMessageDispatcher dispatcher)
    {
        Namespace = ns;
        Dispatcher = dispatcher;
        HandshakeTimeout = options.HandshakeTimeout;
        ReceiveBufferSize = options.ReceiveBufferSize;
        MaxMessageSize = options.MaxMessageSize;
        IdleTimeout = options.IdleTimeout;
        KeepAliveInterval = options.KeepAliveInterval;
        KeepAliveTimeout = options.KeepAliveTimeout;
        EnableCompression = options.EnableCompression;
        SubProtocols = [.. options.SubProtocols];
        AllowAnyOrigin = options.AllowedOrigins.Contains("*");
        AllowedOrigins = [.. options.AllowedOrigins.Where(static o => o != "*").Select(static o => o.TrimEnd('/'))];
        OriginValidator = options.OriginValidator;
        OnUpgradeFailed = options.OnUpgradeFailed;
        CloseOnAuthenticationExpiration = options.CloseOnAuthenticationExpiration;
        TokenRefreshScheme = options.TokenRefreshScheme;
        MessageRateLimitMode = options.MessageRateLimitMode;
        MaxPendingRequests = options.MaxPendingRequests;
        HandlerTimeout = options.HandlerTimeout;
        if (options.MessageRateLimit is { } limit)
        {
            // A copy that each connection's bucket refills as messages arrive, without a timer per connection, and
            // that never queues: a message gets a token at once or not at all.
            MessageRateLimit = new TokenBucketRateLimiterOptions
            {
                TokenLimit = limit.TokenLimit,
                TokensPerPeriod = limit.TokensPerPeriod,
                ReplenishmentPeriod = limit.ReplenishmentPeriod,
                AutoReplenishment = false,
                QueueLimit = 0,
            };
        }
    }

    public NamespaceState Namespace { get; }

    /// <summary>Handles each message: a raw handler, or the namespace's event dispatcher.</summary>
    public IMessageDispatcher Dispatcher { get; }

    public TimeSpan HandshakeTimeout { get; }

    public int ReceiveBufferSize { get; }

    public int MaxMessageSize { get; }

    public TimeSpan IdleTimeout { get; }

    public TimeSpan KeepAliveInterval { get; }

    public TimeSpan KeepAliveTimeout { get; }

    public bool EnableCompression { get; }

    public string[] SubProtocols { get; }

    public bool AllowAnyOrigin { get; }

    public string[] AllowedOrigins { get; }

    public Func<HttpContext, string, bool>? OriginValidator { get; }

    public Func<WebSocketUpgradeFailedContext, Task>? OnUpgradeFailed { get; }

    public bool CloseOnAuthenticationExpiration { get; }

    public string? TokenRefreshScheme { get; }

    /// <summary>The per-connection token bucket, never auto-replenished; null when messages are not rate limited.</summary>
    public TokenBucketRateLimiterOptions? MessageRateLimit { get; }

    public MessageRateLimitMode MessageRateLimitMode { get; }

    public int MaxPendingRequests { get; }

    public TimeSpan HandlerTimeout { get; }
}

/// <summary>The request delegate of a mapped WebSocket endpoint: checks the upgrade, then hands over to the registry.</summary>
internal sealed partial class WebSocketEndpoint(SocketRegistry registry, EndpointRuntime endpoint, ILogger<WebSocketEndpoint> logger)
{
    public Task HandleAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            // RFC 6455 4.4: a refused version is answered with the version the server speaks.
            context.Response.Headers.Upgrade = "websocket";
            context.Response.Headers.SecWebSocketVersion = "13";
            return RefuseAsync(context, StatusCodes.Status426UpgradeRequired,
                "This endpoint accepts WebSocket connections only: send a GET request with 'Connection: Upgrade', 'Upgrade: websocket' and 'Sec-WebSocket-Version: 13'.");
        }

        if (registry.IsStopping)
        {
            return RefuseAsync(context, StatusCodes.Status503ServiceUnavailable, "The server is shutting down.");
        }

        var origin = context.Request.Headers.Origin;
        if (!StringValues.IsNullOrEmpty(origin) && !IsOriginAllowed(context, origin.ToString()))
        {
            Log.OriginRefused(logger, origin.ToString());
            registry.Metrics.ConnectionRejected(endpoint.Namespace.Name, RejectionReason.Origin);
            return RefuseAsync(context, StatusCodes.Status403Forbidden, "The request's Origin is not allowed to open a WebSocket here.");
        }

        var userId = registry.GetUserId(context);
        ConnectionLimiter.ConnectionSlot? slot = null;
        if (registry.Limits.IsEnabled && !registry.Limits.TryAcquire(userId, context.Connection.RemoteIpAddress, out slot, out var refusal))
        {
            return RefuseOverLimitAsync(context, userId, refusal!);
        }

        string id;
        try
        {
            id = registry.Options.ConnectionIdGenerator is { } generator ? generator(context) : NewConnectionId();
            if (string.IsNullOrEmpty(id))
            {
                throw new InvalidOperationException($"{nameof(SocketRegistryOptions.ConnectionIdGenerator)} returned a null or empty connection ID.");
            }
        }
        catch
        {
            slot?.Release();
            throw;
        }

        var subProtocol = SelectSubProtocol(context.WebSockets.WebSocketRequestedProtocols);
        var authenticated = context.User.Identity?.IsAuthenticated == true;
        var authentication = authenticated ? context.Features.Get<IAuthenticateResultFeature>()?.AuthenticateResult : null;
        var connection = new SocketConnection(id, context, subProtocol, registry, endpoint, endpoint.Namespace)
        {
            UserId = userId,
            LimitSlot = slot,
            AuthenticationExpiresAt = authenticated ? authentication?.Properties?.ExpiresUtc : null,
            AuthenticationScheme = authenticated ? authentication?.Ticket?.AuthenticationScheme : null,
            EndpointMetadata = context.GetEndpoint()?.Metadata,
        };
        if (!registry.TryReserve(connection))
        {
            slot?.Release();
            Log.DuplicateId(logger, id);
            return RefuseAsync(context, StatusCodes.Status409Conflict, "A connection with this ID is already open.");
        }

        var acceptContext = new WebSocketAcceptContext
        {
            SubProtocol = subProtocol,
            KeepAliveInterval = endpoint.KeepAliveInterval,
            KeepAliveTimeout = endpoint.KeepAliveInterval == TimeSpan.Zero ? Timeout.InfiniteTimeSpan : endpoint.KeepAliveTimeout,
            DangerousEnableCompression = endpoint.EnableCompression,
        };
        return registry.RunConnectionAsync(context, connection, acceptContext, endpoint);
    }

    internal static string NewConnectionId()
    {
        // Cryptographically random, unlike a GUID: 128 bits as 22 base64url characters.
        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes);
        return Base64Url.EncodeToString(bytes);
    }

    private bool IsOriginAllowed(HttpContext context, string origin)
    {
        if (endpoint.OriginValidator is { } validator)
        {
            return validator(context, origin);
        }

        if (endpoint.AllowAnyOrigin)
        {
            return true;
        }

        // Same origin: the Origin's host and port match the Host header, whatever the scheme, so a TLS-terminating
        // proxy in front does not break it.
        if (Uri.TryCreate(origin, UriKind.Absolute, out var uri)
            && string.Equals(uri.IsDefaultPort ? uri.Host : $"{uri.Host}:{uri.Port}", context.Request.Host.Value, StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        var trimmed = origin.AsSpan().TrimEnd('/');
        foreach (var allowed in endpoint.AllowedOrigins)
        {
            if (trimmed.Equals(allowed, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private string? SelectSubProtocol(IList<string> requested)
    {
        foreach (var supported in endpoint.SubProtocols)
        {
            foreach (var offered in requested)
            {
                if (string.Equals(supported, offered, StringComparison.Ordinal))
                {
                    return supported;
                }
            }
        }

        return null;
    }

    /// <summary>Refuses an upgrade over a connection limit: 503 when the server is full, 429 for one user or address.</summary>
    private Task RefuseOverLimitAsync(HttpContext context, string? userId, string refusal)
    {
        var options = registry.Options;
        registry.Metrics.ConnectionRejected(endpoint.Namespace.Name, refusal);
        switch (refusal)
        {
            case RejectionReason.MaxConnections:
                LimitsLog.ConnectionLimitReached(logger, options.MaxConnections!.Value);
                return RefuseAsync(context, StatusCodes.Status503ServiceUnavailable, "The server has reached its maximum number of WebSocket connections; try again later.");
            case RejectionReason.MaxConnectionsPerUser:
                LimitsLog.UserConnectionLimitReached(logger, userId!, options.MaxConnectionsPerUser!.Value);
                return RefuseAsync(context, StatusCodes.Status429TooManyRequests, "This user already has the maximum number of WebSocket connections open; close one first.");
            default:
                if (logger.IsEnabled(LogLevel.Debug))
                {
                    LimitsLog.IpConnectionLimitReached(logger, context.Connection.RemoteIpAddress?.ToString() ?? "(none)", options.MaxConnectionsPerIpAddress!.Value);
                }

                return RefuseAsync(context, StatusCodes.Status429TooManyRequests, "This address already has the maximum number of WebSocket connections open; close one first.");
        }
    }

    private async Task RefuseAsync(HttpContext context, int statusCode, string reason)
    {
        context.Response.StatusCode = statusCode;
        if (endpoint.OnUpgradeFailed is { } onFailed)
        {
            await onFailed(new WebSocketUpgradeFailedContext(context, statusCode, reason));
            return;
        }

        context.Response.ContentType = "text/plain; charset=utf-8";
        await context.Response.WriteAsync(reason, context.RequestAborted);
    }
}
