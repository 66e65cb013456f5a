using System.Security.Claims;
using Microsoft.AspNetCore.Http;

namespace WebSockets;

/// <summary>
/// A base class for controllers whose public methods are events, mapped with <c>MapWebSocketController</c>.
/// </summary>
/// <remarks>
/// <para>Each public instance method of the derived class is the handler of one event: by default the method name
/// without an <c>Async</c> suffix and with its first letter lower-cased (<c>JoinRoom</c> handles <c>joinRoom</c>), or
/// the name given by <see cref="SocketEventAttribute"/>. <see cref="SocketIgnoreAttribute"/> excludes a method.
/// Methods are found once, at start-up; two methods for one event are a start-up error.</para>
/// <para>A new controller is created for each message, with constructor injection from a DI scope created for that
/// message, and disposed afterwards. Method parameters bind like those of event handlers: the event's data, the
/// connection, a <see cref="CancellationToken"/>, services. For a request, the return value is the reply's data.</para>
/// <para>Socket controllers are marked <see cref="Microsoft.AspNetCore.Mvc.NonControllerAttribute"/>, inherited, so an app
/// that also uses MVC never takes one named <c>…Controller</c> for an MVC controller.</para>
/// </remarks>
[Microsoft.AspNetCore.Mvc.NonController]
public abstract class SocketController
{
    private ISocketConnection? _connection;

    /// <summary>Gets the connection the current message came from.</summary>
    public ISocketConnection Connection
    {
        get => _connection ?? throw new InvalidOperationException("The controller is not attached to a connection: it is only usable while handling a message or hook.");
        internal set => _connection = value;
    }

    /// <summary>Gets the connection's user: the user of its upgrade request, or of its latest accepted <c>$auth</c> token refresh.</summary>
    public ClaimsPrincipal User => Connection.User;

    /// <summary>Gets the connection's session data.</summary>
    public SocketSession Session => Connection.Session;

    /// <summary>Gets the query string of the connection's upgrade request.</summary>
    public IQueryCollection Query => Connection.Query;

    /// <summary>Gets the headers of the connection's upgrade request.</summary>
    public IHeaderDictionary Headers => Connection.Headers;

    /// <summary>Runs once when a connection joins the controller's namespace, before its first message is read.</summary>
    /// <param name="cancellationToken">Canceled when the handshake timeout expires or the connection ends.</param>
    /// <returns>A task that completes when the hook is done.</returns>
    public virtual Task OnConnectedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Runs once after a connection of the controller's namespace has ended.</summary>
    /// <param name="reason">Why the connection ended.</param>
    /// <param name="cancellationToken">Canceled when the host's shutdown timeout expires.</param>
    /// <returns>A task that completes when the hook is done.</returns>
    public virtual Task OnDisconnectedAsync(DisconnectReason reason, CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>Names the event a <see cref="SocketController"/> method handles.</summary>
/// <param name="name">The event name.</param>
[AttributeUsage(AttributeTargets.Method, Inherited = true, AllowMultiple = false)]
public sealed class SocketEventAttribute(string name) : Attribute
{
    /// <summary>Gets the event name.</summary>
    public string Name { get; } = name;
}

/// <summary>Excludes a public <see cref="SocketController"/> method from the events.</summary>
[AttributeUsage(AttributeTargets.Method, Inherited = true, AllowMultiple = false)]
public sealed class SocketIgnoreAttribute : Attribute;

/// <summary>Names the namespace a <see cref="SocketController"/> serves. Without it, the controller serves <see cref="SocketRegistryOptions.DefaultNamespace"/>.</summary>
/// <param name="name">The namespace name.</param>
[AttributeUsage(AttributeTargets.Class, Inherited = true, AllowMultiple = false)]
public sealed class SocketNamespaceAttribute(string name) : Attribute
{
    /// <summary>Gets the namespace name.</summary>
    public string Name { get; } = name;
}
