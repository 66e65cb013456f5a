using System.Net.WebSockets;
using System.Text.Json;

namespace WebSockets.Tests.Infrastructure;

/// <summary>A test client that speaks the event protocol over a real ClientWebSocket.</summary>
internal sealed class EventClient(ClientWebSocket socket, string id) : IDisposable
{
    private long _nextId;

    public string Id { get; } = id;

    public ClientWebSocket Socket { get; } = socket;

    public Task EmitAsync(string eventName, object? data)
        => Socket.SendTextAsync(JsonSerializer.Serialize(new { @event = eventName, data }));

    /// <summary>Sends a request; the next message must be its reply, which is returned whole.</summary>
    public async Task<JsonElement> RequestAsync(string eventName, object? data)
    {
        var id = Interlocked.Increment(ref _nextId);
        await Socket.SendTextAsync(JsonSerializer.Serialize(new { @event = eventName, data, id }));
        var reply = await NextAsync();
        Assert.Equal(id, reply.GetProperty("reply").GetInt64());
        return reply;
    }

    /// <summary>Receives the next message, which must be a text message with a JSON object.</summary>
    public async Task<JsonElement> NextAsync()
    {
        var message = await Socket.ReceiveMessageAsync();
        Assert.True(message.Type == WebSocketMessageType.Text, $"Expected a text message, got {message.Type} ({Socket.CloseStatus} {Socket.CloseStatusDescription}).");
        return message.Json;
    }

    /// <summary>Receives the next event, asserting its name, and returns its data.</summary>
    public async Task<JsonElement> NextEventAsync(string eventName)
    {
        var message = await NextAsync();
        Assert.Equal(eventName, message.GetProperty("event").GetString());
        return message.GetProperty("data");
    }

    public void Dispose() => Socket.Dispose();
}

internal static class Eventually
{
    /// <summary>
    /// Polls a condition that becomes true through another server or a store (presence): every 20 ms, up to the
    /// default timeout, and fails with the last value seen.
    /// </summary>
    public static async Task<T> Until<T>(Func<Task<T>> probe, Func<T, bool> done, string what)
    {
        var deadline = DateTime.UtcNow + TaskTimeoutExtensions.DefaultTimeoutValue;
        while (true)
        {
            var value = await probe();
            if (done(value))
            {
                return value;
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out waiting until {what}; last value: {JsonSerializer.Serialize(value)}");
            }

            await Task.Delay(20);
        }
    }
}
