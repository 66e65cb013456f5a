using System.Net;
using System.Net.WebSockets;
using System.Security.Claims;
using Microsoft.AspNetCore.Http;

namespace WebSockets;

/// <summary>
/// One live WebSocket connection held by the <see cref="ISocketRegistry"/>.
/// </summary>
/// <remarks>
/// Every send goes through the connection's bounded send queue; only its write pump touches the WebSocket,
/// so all members are safe to call from any number of threads at once, and messages from one sender arrive
/// in the order they were sent. What happens when the queue is full is set by
/// <see cref="SocketRegistryOptions.SendQueueFullMode"/>. Sends to a connection that is closing or closed are discarded.
/// </remarks>
public interface ISocketConnection
{
    /// <summary>Gets the connection ID, unique among the live connections of the registry.</summary>
    string Id { get; }

    /// <summary>Gets the namespace the connection belongs to.</summary>
    string Namespace { get; }

    /// <summary>
    /// Gets the user of the upgrade request, or the user of the latest accepted <c>$auth</c> token refresh, which
    /// keeps the same user ID and may bring new claims.
    /// </summary>
    ClaimsPrincipal User { get; }

    /// <summary>
    /// Gets the query string of the upgrade request, without its <c>access_token</c> parameter, so that code which logs
    /// the query cannot leak the token.
    /// </summary>
    IQueryCollection Query { get; }

    /// <summary>
    /// Gets the headers of the upgrade request, without <c>Authorization</c>, so that code which logs them cannot leak
    /// the credential. Authentication has already run; its result is <see cref="User"/>.
    /// </summary>
    IHeaderDictionary Headers { get; }

    /// <summary>Gets the remote IP address of the client, if known.</summary>
    IPAddress? RemoteIpAddress { get; }

    /// <summary>Gets the sub-protocol negotiated in the handshake, or <see langword="null"/> when there is none.</summary>
    string? SubProtocol { get; }

    /// <summary>Gets the user ID from <see cref="SocketRegistryOptions.UserIdProvider"/>, or <see langword="null"/> for an anonymous connection.</summary>
    string? UserId { get; }

    /// <summary>Gets the rooms the connection is in: a snapshot, in no particular order.</summary>
    IReadOnlyCollection<string> Rooms { get; }

    /// <summary>Gets the per-connection session data.</summary>
    SocketSession Session { get; }

    /// <summary>Gets whether the connection is open: it accepts new messages for sending.</summary>
    bool IsOpen { get; }

    /// <summary>Gets a token that is canceled when the connection has ended.</summary>
    CancellationToken ConnectionClosed { get; }

    /// <summary>Gets the close status sent by the client, or by the server when it closed first; <see langword="null"/> while open or when the connection was lost.</summary>
    WebSocketCloseStatus? CloseStatus { get; }

    /// <summary>Gets the description that came with <see cref="CloseStatus"/>.</summary>
    string? CloseStatusDescription { get; }

    /// <summary>Queues a message for sending.</summary>
    /// <param name="message">The message. Its payload is not copied.</param>
    /// <param name="cancellationToken">Cancels a send that waits for room in the queue (<see cref="SendQueueFullMode.Wait"/>).</param>
    /// <returns>A task that completes when the message is queued, dropped or discarded; not when it reaches the client.</returns>
    ValueTask SendAsync(SocketMessage message, CancellationToken cancellationToken = default);

    /// <summary>Queues a text message.</summary>
    /// <param name="text">The text, sent as a UTF-8 text frame.</param>
    /// <param name="cancellationToken">Cancels a send that waits for room in the queue.</param>
    /// <returns>A task that completes when the message is queued, dropped or discarded.</returns>
    ValueTask SendAsync(string text, CancellationToken cancellationToken = default);

    /// <summary>Queues a binary message. The array is not copied: do not change it after the call.</summary>
    /// <param name="data">The payload, sent as a binary frame.</param>
    /// <param name="cancellationToken">Cancels a send that waits for room in the queue.</param>
    /// <returns>A task that completes when the message is queued, dropped or discarded.</returns>
    ValueTask SendAsync(byte[] data, CancellationToken cancellationToken = default);

    /// <summary>Queues a binary message. The payload is copied, so the caller may reuse its memory at once.</summary>
    /// <param name="data">The payload, sent as a binary frame.</param>
    /// <param name="cancellationToken">Cancels a send that waits for room in the queue.</param>
    /// <returns>A task that completes when the message is queued, dropped or discarded.</returns>
    ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default);

    /// <summary>
    /// Queues <paramref name="value"/> serialized as JSON in a text frame, using <see cref="SocketRegistryOptions.JsonSerializerOptions"/>.
    /// A <see cref="SocketMessage"/> is sent as it is, and a <see cref="Memory{T}"/> or <see cref="ArraySegment{T}"/> of bytes
    /// as one binary frame (copied), not as JSON.
    /// </summary>
    /// <typeparam name="T">The type to serialize.</typeparam>
    /// <param name="value">The value.</param>
    /// <param name="cancellationToken">Cancels a send that waits for room in the queue.</param>
    /// <returns>A task that completes when the message is queued, dropped or discarded.</returns>
    ValueTask SendAsync<T>(T value, CancellationToken cancellationToken = default);

    /// <summary>
    /// Emits an event: queues <c>{"event":eventName,"data":data}</c>. For an event batched with
    /// <see cref="SocketNamespaceBuilder.UseBatch"/>, the data joins this connection's batch instead.
    /// </summary>
    /// <typeparam name="T">The data type.</typeparam>
    /// <param name="eventName">The event name.</param>
    /// <param name="data">The event data, serialized as JSON with <see cref="SocketRegistryOptions.JsonSerializerOptions"/>.</param>
    /// <param name="cancellationToken">Cancels a send that waits for room in the queue.</param>
    /// <returns>A task that completes when the event is queued, dropped or discarded.</returns>
    ValueTask EmitAsync<T>(string eventName, T data, CancellationToken cancellationToken = default);

    /// <summary>Emits an event without data: <c>{"event":eventName,"data":null}</c>.</summary>
    /// <param name="eventName">The event name.</param>
    /// <param name="cancellationToken">Cancels a send that waits for room in the queue.</param>
    /// <returns>A task that completes when the event is queued, dropped or discarded.</returns>
    ValueTask EmitAsync(string eventName, CancellationToken cancellationToken = default);

    /// <summary>
    /// Joins a room: messages to the room reach this connection, on whichever server they are sent, and presence shows
    /// it as a member. Joining a room twice is a no-op. The connection leaves all its rooms when it ends.
    /// </summary>
    /// <param name="room">The room: a non-empty name, compared ordinally.</param>
    /// <returns>A task that completes when the membership is in effect here and handed to the backplane.</returns>
    /// <exception cref="InvalidOperationException">The connection is already in <see cref="SocketRegistryOptions.MaxRoomsPerConnection"/> rooms.</exception>
    ValueTask JoinAsync(string room);

    /// <summary>Leaves a room. Leaving a room it is not in is a no-op.</summary>
    /// <param name="room">The room.</param>
    /// <returns>A task that completes when the membership has ended here and the change is handed to the backplane.</returns>
    ValueTask LeaveAsync(string room);

    /// <summary>Emits an event to every other connection of this connection's namespace, on every server. The data is serialized once.</summary>
    /// <typeparam name="T">The data type.</typeparam>
    /// <param name="eventName">The event name.</param>
    /// <param name="data">The event data.</param>
    /// <param name="cancellationToken">Cancels waiting for queue room when <see cref="SendQueueFullMode.Wait"/> applies.</param>
    /// <returns>A task that completes when the event is queued to (or dropped for) every target.</returns>
    ValueTask BroadcastAsync<T>(string eventName, T data, CancellationToken cancellationToken = default);

    /// <summary>
    /// Sends a request (<c>{"event":eventName,"data":data,"id":n}</c>) and waits for the client's reply
    /// (<c>{"reply":n,"data":…}</c>), deserialized as <typeparamref name="TReply"/>. The client's replies are read
    /// even while this connection's event handlers run, so a handler may await a request.
    /// </summary>
    /// <typeparam name="TReply">The type the reply's data is deserialized to.</typeparam>
    /// <param name="eventName">The event name.</param>
    /// <param name="data">The request data, serialized as JSON by its runtime type.</param>
    /// <param name="timeout">How long to wait for the reply. The default, <see langword="null"/>, is <see cref="SocketRegistryOptions.RequestTimeout"/>.</param>
    /// <param name="cancellationToken">Cancels waiting.</param>
    /// <returns>The reply's data.</returns>
    /// <exception cref="TimeoutException">No reply arrived in time.</exception>
    /// <exception cref="SocketRequestException">The client replied with an error, its reply does not bind, or the connection ended first.</exception>
    Task<TReply> RequestAsync<TReply>(string eventName, object? data = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Closes the connection: messages already queued are sent first, then a close frame. The connection stops
    /// accepting new messages at once. If the client does not complete the close within
    /// <see cref="SocketRegistryOptions.CloseTimeout"/>, the connection is aborted.
    /// </summary>
    /// <param name="closeStatus">The close code. The default is 1000 (normal closure).</param>
    /// <param name="statusDescription">An optional reason, at most 123 UTF-8 bytes.</param>
    /// <returns>A task that completes when the close frame was sent or the connection was aborted.</returns>
    Task CloseAsync(WebSocketCloseStatus closeStatus = WebSocketCloseStatus.NormalClosure, string? statusDescription = null);

    /// <summary>Ends the connection at once, without flushing the queue or sending a close frame.</summary>
    void Abort();
}
