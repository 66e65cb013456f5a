namespace WebSockets.Internal;

/// <summary>Marks the endpoints mapped by this library, so that query-string tokens are only taken for them.</summary>
internal sealed class WebSocketEndpointMetadata
{
    public static readonly WebSocketEndpointMetadata Instance = new();

    private WebSocketEndpointMetadata()
    {
    }
}
