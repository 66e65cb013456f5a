using System.Text.Json;
using System.Text.Json.Serialization;

namespace WebSockets.Internal;

// The admin endpoint's JSON (docs/admin.md). Field names are camelCase; counters count from AdminMessages.Since.

internal sealed record AdminStats(
    string ServerId,
    bool Clustered,
    bool Stopping,
    DateTimeOffset Now,
    DateTimeOffset? StartedAt,
    double UptimeSeconds,
    bool AllowDisconnect,
    AdminConnections Connections,
    IReadOnlyList<AdminNamespace> Namespaces,
    AdminRooms Rooms,
    AdminMessages Messages,
    AdminQueues Queues,
    AdminProblems Problems,
    AdminBackplane Backplane);

/// <param name="Local">Open on this server.</param>
/// <param name="Cluster">Open on every server that answered.</param>
/// <param name="ClusterComplete">Whether every server answered within the cluster query timeout.</param>
/// <param name="MissingServers">The servers that did not, when known.</param>
/// <param name="Connects">Connections accepted by this server since counting began.</param>
internal sealed record AdminConnections(int Local, int Cluster, bool ClusterComplete, IReadOnlyList<string> MissingServers, long Connects);

internal sealed record AdminNamespace(
    string Name,
    int Connections,
    int ClusterConnections,
    long QueuedMessages,
    int MaxQueuedMessages,
    long MessagesReceived,
    long MessagesSent,
    long DroppedMessages);

/// <param name="Count">Rooms with members, cluster-wide.</param>
/// <param name="Top">The largest rooms, at most <c>MaxRooms</c>, largest first.</param>
internal sealed record AdminRooms(int Count, IReadOnlyList<AdminRoom> Top);

internal sealed record AdminRoom(string Name, int Members, int LocalMembers);

internal sealed record AdminMessages(
    DateTimeOffset Since,
    long Received,
    long Sent,
    long BytesReceived,
    long BytesSent,
    double ReceivedPerSecond,
    double SentPerSecond,
    double BytesReceivedPerSecond,
    double BytesSentPerSecond,
    double RateWindowSeconds);

internal sealed record AdminQueues(long QueuedMessages, int MaxQueuedMessages, int Capacity, string FullMode);

internal sealed record AdminProblems(
    long DroppedMessages,
    long DiscardedMessages,
    long HandlerTimeouts,
    IReadOnlyDictionary<string, long> RejectedConnections,
    IReadOnlyDictionary<string, long> RejectedMessages,
    IReadOnlyDictionary<string, long> Disconnects);

/// <param name="Type">The backplane's class name.</param>
/// <param name="Clustered">Whether it connects this server to others.</param>
/// <param name="Status">The worst status of the library's health checks, or null when none ran.</param>
/// <param name="Checks">The library's health checks, or null when the app has no health check service.</param>
internal sealed record AdminBackplane(string Type, bool Clustered, string? Status, IReadOnlyList<AdminHealthCheck>? Checks);

internal sealed record AdminHealthCheck(string Name, string Status, string? Description, double DurationMilliseconds);

/// <param name="Count">Connections of this server that match the filters.</param>
/// <param name="Connections">The first of them, at most <c>take</c>.</param>
internal sealed record AdminConnectionPage(int Count, IReadOnlyList<AdminConnection> Connections);

internal sealed record AdminConnection(
    string Id,
    string Namespace,
    string? UserId,
    string? RemoteAddress,
    IReadOnlyList<string> Rooms,
    int QueuedMessages,
    DateTimeOffset ConnectedAt,
    string? SubProtocol);

/// <param name="Id">The connection ID.</param>
/// <param name="Located">Whether the connection was found (here or in the cluster's presence) before the disconnect was sent.</param>
/// <param name="ServerId">The server that holds it, when located.</param>
internal sealed record AdminDisconnect(string Id, bool Located, string? ServerId);

internal sealed record AdminError(string Error);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(AdminStats))]
[JsonSerializable(typeof(AdminConnectionPage))]
[JsonSerializable(typeof(AdminDisconnect))]
[JsonSerializable(typeof(AdminError))]
internal sealed partial class SocketAdminJsonContext : JsonSerializerContext;
