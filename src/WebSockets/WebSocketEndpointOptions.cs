using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;

namespace WebSockets;

/// <summary>
/// Options for one endpoint mapped with <c>MapWebSocketEndpoint</c>: the upgrade (handshake) and the limits of each
/// connection accepted there. Invalid values are reported, all at once, when the endpoint is mapped.
/// </summary>
public sealed class WebSocketEndpointOptions
{
    /// <summary>
    /// Gets or sets the namespace that connections of this endpoint join. The namespace's hooks run for them.
    /// The default, <see langword="null"/>, is <see cref="SocketRegistryOptions.DefaultNamespace"/>.
    /// </summary>
    public string? Namespace { get; set; }

    /// <summary>
    /// Gets or sets how long accepting a connection may take: writing the 101 response and running the namespace's
    /// connect hooks. A connection that is not ready in time is closed. Must be positive. The default is 10 seconds.
    /// </summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Gets or sets the size of the pooled buffer a message is received into. It is rented when a message starts
    /// arriving and returned when it has been handled, so idle connections hold none. Larger messages grow it up to
    /// <see cref="MaxMessageSize"/>. Must be between 256 bytes and <see cref="MaxMessageSize"/>. The default is 4 KiB.
    /// </summary>
    public int ReceiveBufferSize { get; set; } = 4 * 1024;

    /// <summary>
    /// Gets or sets the largest message accepted from a client, in bytes. A larger message closes the connection with
    /// 1009 (message too big). Must be positive. The default is 64 KiB.
    /// </summary>
    public int MaxMessageSize { get; set; } = 64 * 1024;

    /// <summary>
    /// Gets the sub-protocols this endpoint speaks, in order of preference. The first one that the client also
    /// offers is chosen; when none matches, or the list is empty, the connection has no sub-protocol.
    /// The default is empty.
    /// </summary>
    public IList<string> SubProtocols { get; } = new List<string>();

    /// <summary>
    /// Gets the origins that browsers may connect from, such as <c>https://app.example.com</c>, besides the endpoint's
    /// own origin. <c>"*"</c> allows every origin. Requests without an <c>Origin</c> header (non-browser clients) are
    /// always allowed. A browser request from any other origin is refused with 403, against cross-site WebSocket
    /// hijacking. The default is empty: same origin only.
    /// </summary>
    public IList<string> AllowedOrigins { get; } = new List<string>();

    /// <summary>
    /// Gets or sets a predicate that decides, instead of <see cref="AllowedOrigins"/>, whether a request's
    /// <c>Origin</c> may connect. It receives the request and the origin. The default is <see langword="null"/>.
    /// </summary>
    public Func<HttpContext, string, bool>? OriginValidator { get; set; }

    /// <summary>
    /// Gets or sets whether to accept permessage-deflate compression when the client asks for it. Compressing data
    /// that mixes secrets with attacker-controlled text can leak the secrets (CRIME/BREACH); see
    /// <see cref="WebSocketAcceptContext.DangerousEnableCompression"/>. The default is <see langword="false"/>.
    /// </summary>
    public bool EnableCompression { get; set; }

    /// <summary>
    /// Gets or sets how often the server pings the client to keep the connection alive. <see cref="TimeSpan.Zero"/>
    /// turns pings off. The default is 15 seconds.
    /// </summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Gets or sets how long the server waits for the pong to a ping before it aborts the connection as lost.
    /// <see cref="Timeout.InfiniteTimeSpan"/> waits forever. Ignored when pings are off. The default is 30 seconds.
    /// </summary>
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Gets or sets how long a connection may go without receiving a message from the client before it is closed
    /// with 1000 and <see cref="DisconnectReason.IdleTimeout"/>. Pongs do not count as messages. The check runs every
    /// half of this time, so a connection closes between one and one and a half times it after its last message.
    /// <see cref="Timeout.InfiniteTimeSpan"/> turns the check off. The default is <see cref="Timeout.InfiniteTimeSpan"/>.
    /// </summary>
    public TimeSpan IdleTimeout { get; set; } = Timeout.InfiniteTimeSpan;

    /// <summary>
    /// Gets or sets how fast each connection may send messages: a token bucket of its own per connection, holding
    /// <see cref="TokenBucketRateLimiterOptions.TokenLimit"/> messages (the burst) and refilled with
    /// <see cref="TokenBucketRateLimiterOptions.TokensPerPeriod"/> messages every
    /// <see cref="TokenBucketRateLimiterOptions.ReplenishmentPeriod"/> (the sustained rate). Every message counts, text or
    /// binary, except a client's reply to a request the server is waiting for. A message beyond the limit is never
    /// handled; <see cref="MessageRateLimitMode"/> says what happens instead. The bucket refills as messages arrive, without
    /// a timer: <see cref="TokenBucketRateLimiterOptions.AutoReplenishment"/>, <see cref="TokenBucketRateLimiterOptions.QueueLimit"/>
    /// and <see cref="TokenBucketRateLimiterOptions.QueueProcessingOrder"/> are ignored (messages never wait for a token).
    /// The options are copied when the endpoint is mapped. The default, <see langword="null"/>, is no limit.
    /// </summary>
    public TokenBucketRateLimiterOptions? MessageRateLimit { get; set; }

    /// <summary>
    /// Gets or sets what happens to a message beyond <see cref="MessageRateLimit"/>: <see cref="MessageRateLimitMode.Reject"/>
    /// drops it and sends the client the error <c>rate_limited</c> (the connection stays open),
    /// <see cref="MessageRateLimitMode.Close"/> closes the connection with 1008. The default is
    /// <see cref="MessageRateLimitMode.Reject"/>.
    /// </summary>
    public MessageRateLimitMode MessageRateLimitMode { get; set; } = MessageRateLimitMode.Reject;

    /// <summary>
    /// Gets or sets how many requests (messages with an <c>id</c>) of one connection may be pending at once, running or
    /// waiting for their handler, on an event-protocol endpoint. A request beyond it gets the error reply
    /// <c>too_many_requests</c> and is not handled; the connection stays open. It keeps room for events in the queue of
    /// 32 messages that may wait behind a running handler (beyond which every message gets <c>busy</c>). Must be between
    /// 1 and 32. The default is 16.
    /// </summary>
    public int MaxPendingRequests { get; set; } = 16;

    /// <summary>
    /// Gets or sets how long one handler may run for one message: an event or request handler, a binary handler, or a raw
    /// message handler. At the timeout, the handler's <see cref="CancellationToken"/> is canceled and the server stops
    /// waiting for it: a request gets the error reply <c>handler_timeout</c> (anything else an error notice), and the
    /// connection goes on with its next message. A handler that ignores its token keeps running unobserved until it ends;
    /// its result is discarded and its services are disposed then. At most 32 such handlers of one connection may run on;
    /// one more closes the connection with 1011. With a timeout set, each handler gets a token of its own,
    /// canceled at the timeout or when the connection ends and valid only while the handler runs (a timer and a token
    /// per message); without one, the connection's token. Must be positive or
    /// <see cref="Timeout.InfiniteTimeSpan"/>. The default is <see cref="Timeout.InfiniteTimeSpan"/>: handlers of one
    /// connection may legitimately run for as long as it lives (a subscription loop, a request to the client with a long
    /// timeout), a hung handler holds up only its own connection, and a timer per message has a cost. Set it when handlers
    /// call services that can hang.
    /// </summary>
    public TimeSpan HandlerTimeout { get; set; } = Timeout.InfiniteTimeSpan;

    /// <summary>
    /// Gets or sets a handler that writes the response when an upgrade is refused (not a WebSocket request, origin
    /// refused, duplicate ID, server stopping, a connection limit of <see cref="SocketRegistryOptions"/> reached). The status code is set before it runs. The default, <see langword="null"/>,
    /// writes the reason as a plain-text body.
    /// </summary>
    public Func<WebSocketUpgradeFailedContext, Task>? OnUpgradeFailed { get; set; }

    /// <summary>
    /// Gets or sets whether a connection is closed, with 1008 and <see cref="DisconnectReason.AuthenticationExpired"/>,
    /// when the authentication of its upgrade request expires. The expiry is
    /// <see cref="Microsoft.AspNetCore.Authentication.AuthenticationProperties.ExpiresUtc"/> of the authentication
    /// result (JWT bearer sets it from the token's <c>exp</c>; a cookie from its ticket); without one, nothing expires.
    /// An event endpoint's client can push the expiry back with the built-in <c>$auth</c> request (docs/protocol.md).
    /// The default is <see langword="true"/>.
    /// </summary>
    public bool CloseOnAuthenticationExpiration { get; set; } = true;

    /// <summary>
    /// Gets or sets the authentication scheme that checks the token of a <c>$auth</c> token refresh, presented to it
    /// as an <c>Authorization: Bearer</c> header. The default, <see langword="null"/>, uses the scheme that
    /// authenticated the connection's upgrade request, or the default authenticate scheme when that is unknown.
    /// </summary>
    public string? TokenRefreshScheme { get; set; }
}
