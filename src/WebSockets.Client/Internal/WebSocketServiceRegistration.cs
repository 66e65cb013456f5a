namespace WebSockets.Client.Internal;

/// <summary>One <c>AddWebSocketService</c> call: a name and the server's URI. Its options are named options of the same name.</summary>
internal sealed record WebSocketServiceRegistration(string Name, Uri Uri);
