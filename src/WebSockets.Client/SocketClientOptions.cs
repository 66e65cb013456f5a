using System.Diagnostics.Metrics;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace WebSockets.Client;

/// <summary>
/// Options of a <see cref="SocketClient"/>. They are read when the client is created; later changes have no effect.
/// Invalid values are reported, all at once, by the client's constructor.
/// </summary>
public sealed class SocketClientOptions
{
    /// <summary>
    /// Gets or sets the name used in logs and as the <c>websockets.client.name</c> metric tag.
    /// <c>AddWebSocketService</c> sets it to the service name. The default, <see langword="null"/>, uses the URI's host and port.
    /// </summary>
    public string? Name { get; set; }

    /// <summary>Gets or sets how received messages are read. The default is <see cref="SocketClientProtocol.Events"/>.</summary>
    public SocketClientProtocol Protocol { get; set; } = SocketClientProtocol.Events;

    /// <summary>Gets the HTTP headers sent with every upgrade request, on each connection attempt. The default is empty.</summary>
    public IDictionary<string, string> Headers { get; private set; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Gets the sub-protocols offered on every connection attempt, in order of preference. The default is empty.</summary>
    public IList<string> SubProtocols { get; private set; } = new List<string>();

    /// <summary>
    /// Gets or sets a function called before every connection attempt for a fresh access token. A non-empty token is
    /// sent as <see cref="AccessTokenPlacement"/> says; <see langword="null"/> or empty sends none. If it throws, the
    /// attempt fails (and is retried like any other). The default is <see langword="null"/>.
    /// </summary>
    public Func<CancellationToken, ValueTask<string?>>? AccessTokenProvider { get; set; }

    /// <summary>Gets or sets where the access token goes. The default is <see cref="AccessTokenPlacement.AuthorizationHeader"/>.</summary>
    public AccessTokenPlacement AccessTokenPlacement { get; set; } = AccessTokenPlacement.AuthorizationHeader;

    /// <summary>Gets or sets the query parameter for <see cref="AccessTokenPlacement.QueryString"/>. The default is <c>access_token</c>.</summary>
    public string AccessTokenQueryName { get; set; } = "access_token";

    /// <summary>
    /// Gets or sets whether the client reconnects by itself after a connection ends (other than by
    /// <see cref="SocketClient.StopAsync"/>). The default is <see langword="true"/>.
    /// </summary>
    public bool Reconnect { get; set; } = true;

    /// <summary>
    /// Gets or sets the base delay between connection attempts. Attempt <c>n</c> waits
    /// <c>min(RetryInterval × 2^(n−1), MaxRetryDelay)</c>, less up to <see cref="RetryJitter"/> of it at random.
    /// Must be positive. The default is 1 second.
    /// </summary>
    public TimeSpan RetryInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets or sets the longest delay between connection attempts. Must be at least <see cref="RetryInterval"/>. The default is 30 seconds.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Gets or sets the fraction of each delay taken off at random, so that many clients don't reconnect in step.
    /// 0 turns jitter off. Must be between 0 and 1. The default is 0.2 (a delay is 80 % to 100 % of its nominal value).
    /// </summary>
    public double RetryJitter { get; set; } = 0.2;

    /// <summary>Gets or sets how long one connection attempt (token and handshake) may take. Must be positive. The default is 10 seconds.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Gets or sets how many messages the outbox holds. Every send goes through it, in order; while the client is not
    /// connected, messages wait there. A send to a full outbox (after dropping expired messages) fails with
    /// <see cref="SocketClientSendFailure.OutboxFull"/>. Must be positive. The default is 1000.
    /// </summary>
    public int OutboxCapacity { get; set; } = 1000;

    /// <summary>
    /// Gets or sets how many received messages (events, server requests, raw messages) may wait for the handlers, which
    /// run one at a time. When that many wait, a newly received message is dropped, logged and counted (reason
    /// <c>inbound_full</c>), and a server request is answered with the error reply <c>client_busy</c>; the connection is
    /// never paused, so replies to the client's own requests, which don't wait for the handlers, are never held back.
    /// Must be positive. The default is 10000.
    /// </summary>
    public int InboundCapacity { get; set; } = 10_000;

    /// <summary>
    /// Gets or sets how long a message stays valid by default (see <see cref="SocketClientSendOptions.TimeToLive"/>).
    /// Must be positive or <see cref="Timeout.InfiniteTimeSpan"/>. The default is <see cref="Timeout.InfiniteTimeSpan"/>.
    /// </summary>
    public TimeSpan MessageTimeToLive { get; set; } = Timeout.InfiniteTimeSpan;

    /// <summary>
    /// Gets or sets how long <see cref="SocketClient.RequestAsync{TReply}"/> waits for a reply when no timeout is given,
    /// time in the outbox included. Must be positive. The default is 30 seconds.
    /// </summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Gets or sets how long <see cref="SocketClient.StopAsync"/> waits for the outbox to be flushed and the server to
    /// answer the close frame before aborting. Must be positive. The default is 5 seconds.
    /// </summary>
    public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Gets or sets the largest message accepted from the server, in bytes. A larger one closes the connection with
    /// 1009 (and a reconnection follows if enabled). Must be positive. The default is 1 MiB.
    /// </summary>
    public int MaxMessageSize { get; set; } = 1024 * 1024;

    /// <summary>
    /// Gets or sets how often the client pings the server. <see cref="TimeSpan.Zero"/> turns pings off. The default is 15 seconds.
    /// </summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Gets or sets how long the client waits for the pong to a ping before it treats the connection as lost (and
    /// reconnects). <see cref="Timeout.InfiniteTimeSpan"/> waits forever. The default is 30 seconds.
    /// </summary>
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Gets or sets a callback that adjusts each new <see cref="ClientWebSocketOptions"/> (certificates, proxy,
    /// compression, HTTP version) after the client has applied its own settings. The default is <see langword="null"/>.
    /// </summary>
    public Action<ClientWebSocketOptions>? ConfigureWebSocket { get; set; }

    /// <summary>
    /// Gets or sets the JSON options for events, requests, replies and JSON sends. Their resolver must know every type sent
    /// or received: in trimmed and Native AOT apps, set options whose <see cref="JsonSerializerOptions.TypeInfoResolverChain"/>
    /// holds a <c>JsonSerializerContext</c>. The default is read-only, with the web defaults (camelCase, like
    /// <see cref="JsonSerializerOptions.Web"/>) and the reflection-based resolver where reflection-based serialization is
    /// enabled (not in trimmed or Native AOT apps).
    /// </summary>
    public JsonSerializerOptions JsonSerializerOptions { get; set; } = Internal.JsonDefaults.Web;

    /// <summary>Gets or sets the clock for back-off delays, expiry and timeouts. The default is <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Gets or sets the logger factory. The default, <see langword="null"/>, logs nothing; <c>AddWebSocketService</c> sets the host's.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>
    /// Gets or sets the meter factory for the <c>WebSockets.Client</c> meter. The default, <see langword="null"/>, creates
    /// the meter directly; <c>AddWebSocketService</c> sets the host's.
    /// </summary>
    public IMeterFactory? MeterFactory { get; set; }

    /// <summary>A copy, so that the client is not affected by later changes.</summary>
    internal SocketClientOptions Clone()
    {
        var copy = (SocketClientOptions)MemberwiseClone();
        var headers = new Dictionary<string, string>(Headers, StringComparer.OrdinalIgnoreCase);
        var subProtocols = new List<string>(SubProtocols);
        copy.Headers = headers;
        copy.SubProtocols = subProtocols;
        return copy;
    }
}
