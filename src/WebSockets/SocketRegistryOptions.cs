using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace WebSockets;

/// <summary>
/// Options for the <see cref="ISocketRegistry"/> and every connection it holds. Set them with
/// <c>services.AddSocketRegistry(options => …)</c>. They are validated when the host starts, and every invalid
/// value is reported at once.
/// </summary>
public sealed class SocketRegistryOptions
{
    /// <summary>The name of the namespace that connections join when their endpoint names none: <c>"default"</c>.</summary>
    public const string DefaultNamespace = "default";

    /// <summary>
    /// Gets or sets how many messages each connection's send queue holds before <see cref="SendQueueFullMode"/> applies.
    /// Must be between 1 and 1 048 576. The default is 256.
    /// </summary>
    public int SendQueueCapacity { get; set; } = 256;

    /// <summary>Gets or sets what a send does when the queue is full. The default is <see cref="SendQueueFullMode.Close"/>.</summary>
    public SendQueueFullMode SendQueueFullMode { get; set; } = SendQueueFullMode.Close;

    /// <summary>
    /// Gets or sets how long a closing connection may take to flush its queue and complete the close handshake
    /// before it is aborted. When either pump ends, the other gets this long. Must be positive. The default is 5 seconds.
    /// </summary>
    public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Gets or sets how long a graceful shutdown waits for connections to flush their queues and close with
    /// 1001 (going away) before they are aborted. Must be positive. The default is 10 seconds.
    /// </summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Gets or sets how long <see cref="ISocketConnection.RequestAsync{TReply}"/> waits for a reply when the call names
    /// no timeout. Must be positive. The default is 30 seconds.
    /// </summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Gets or sets the function that makes a connection ID from the upgrade request. It must return a non-empty
    /// string; a request whose ID is already in use is refused with 409. The default, <see langword="null"/>, makes a
    /// cryptographically random 22-character base64url ID (128 bits).
    /// </summary>
    public Func<HttpContext, string>? ConnectionIdGenerator { get; set; }

    /// <summary>
    /// Gets or sets the function that finds the user ID of a connection from its upgrade request, when the connection is
    /// accepted; and again for each <c>$auth</c> token refresh, against a request with the upgrade's headers (without
    /// <c>Authorization</c>), query and remote address and the new user, whose ID must be the same. Connections with a
    /// user ID can be reached with <see cref="ISocketRegistry.Users"/> on any server. The default, <see langword="null"/>, takes the value of the <see cref="ClaimTypes.NameIdentifier"/> claim
    /// of the authenticated user, and no user ID for an anonymous request.
    /// </summary>
    public Func<HttpContext, string?>? UserIdProvider { get; set; }

    /// <summary>
    /// Gets the names of the session items that presence shows to others: each <see cref="SocketMember"/> carries those
    /// the connection has, serialized as JSON. Items not named here never leave the server. The default is empty.
    /// </summary>
    public ISet<string> PublicSessionItems { get; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>
    /// Gets or sets how many rooms one connection may be in at once. A join beyond it throws
    /// <see cref="InvalidOperationException"/>, and a client's <c>$join</c> gets the error reply <c>too_many_rooms</c>.
    /// Must be positive. The default is 100.
    /// </summary>
    public int MaxRoomsPerConnection { get; set; } = 100;

    /// <summary>
    /// Gets or sets how many connections this server accepts at once, over all its endpoints. Connections being accepted
    /// count too, so concurrent upgrades can't overshoot. An upgrade beyond it is refused with 503 (Service Unavailable)
    /// before it is accepted, and counted as <c>max_connections</c> in <c>websockets.server.rejected_connections</c>.
    /// Must be positive or <see langword="null"/>. The default, <see langword="null"/>, is no limit.
    /// </summary>
    public int? MaxConnections { get; set; }

    /// <summary>
    /// Gets or sets how many connections one user (the ID from <see cref="UserIdProvider"/>) may have open on this server at
    /// once. An upgrade beyond it is refused with 429 (Too Many Requests) before it is accepted. Connections without a user
    /// ID are not limited by it. Must be positive or <see langword="null"/>. The default, <see langword="null"/>, is no limit.
    /// </summary>
    public int? MaxConnectionsPerUser { get; set; }

    /// <summary>
    /// Gets or sets how many connections one remote IP address may have open on this server at once. An upgrade beyond it
    /// is refused with 429 (Too Many Requests) before it is accepted. IPv6 addresses count per /64 prefix (what one
    /// subscriber usually gets), so a host can't get around the limit by changing addresses within its prefix. Behind a
    /// reverse proxy, use the forwarded-headers middleware so that the address is the client's, not the proxy's. Must be
    /// positive or <see langword="null"/>. The default, <see langword="null"/>, is no limit.
    /// </summary>
    public int? MaxConnectionsPerIpAddress { get; set; }

    /// <summary>
    /// Gets or sets how long a cluster-wide presence query waits for the backplane before it answers with what it has,
    /// marked incomplete, and how long connection set-up and disconnect wait for the backplane to record presence. Must be
    /// positive. The default is 2 seconds.
    /// </summary>
    public TimeSpan ClusterQueryTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Gets or sets whether error replies to a client include exception messages. Turn on only in development.
    /// The default is <see langword="false"/>.
    /// </summary>
    public bool EnableDetailedErrors { get; set; }

    /// <summary>
    /// Gets or sets the serializer options for event data, JSON messages, replies and broadcasts. To use source
    /// generation, add a <c>JsonSerializerContext</c> to <see cref="JsonSerializerOptions.TypeInfoResolverChain"/>; trimmed
    /// and Native AOT apps must, for every type they send or receive.
    /// The default has the web defaults (camelCase, case-insensitive reads, like <see cref="JsonSerializerOptions.Web"/>),
    /// with the reflection-based resolver where reflection-based serialization is enabled, and no resolver in trimmed and
    /// Native AOT apps (where the <c>JsonSerializerIsReflectionEnabledByDefault</c> switch is off).
    /// </summary>
    public JsonSerializerOptions JsonSerializerOptions { get; set; } = Internal.JsonDefaults.CreateWebOptions();
}
