using System.Net.WebSockets;
using System.Text.Json;

namespace WebSockets.Client.Internal;

/// <summary>
/// An event, a server request, or a raw message, waiting for the handler loop. It owns its
/// <see cref="JsonDocument"/>, disposed once handled.
/// </summary>
internal sealed class InboundMessage : IDisposable
{
    private InboundMessage(int generation, JsonDocument? document, string? eventName, JsonElement data, long? id, WebSocketMessageType type, byte[]? payload)
    {
        Generation = generation;
        Document = document;
        EventName = eventName;
        Data = data;
        Id = id;
        Type = type;
        Payload = payload;
    }

    public int Generation { get; }

    public JsonDocument? Document { get; }

    /// <summary>The event name, or <see langword="null"/> for a raw message.</summary>
    public string? EventName { get; }

    public JsonElement Data { get; }

    public long? Id { get; }

    public WebSocketMessageType Type { get; }

    public byte[]? Payload { get; }

    public static InboundMessage Event(int generation, JsonDocument document, string eventName, JsonElement data, long? id)
        => new(generation, document, eventName, data, id, WebSocketMessageType.Text, null);

    public static InboundMessage Raw(int generation, WebSocketMessageType type, byte[] payload)
        => new(generation, null, null, default, null, type, payload);

    public void Dispose() => Document?.Dispose();
}
