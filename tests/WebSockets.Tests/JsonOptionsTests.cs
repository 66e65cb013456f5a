using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests;

/// <summary>Serializer options as applications write them, including ones without a resolver.</summary>
public sealed class JsonOptionsTests
{
    private sealed record Note(string Text, int Stars);

    [Fact]
    public async Task OptionsWithoutAResolver_BindEventsAndRepliesAsSystemTextJsonWould()
    {
        await using var host = await TestHost.StartAsync(
            s => s.AddSocketRegistry(o => o.JsonSerializerOptions = new JsonSerializerOptions(JsonSerializerDefaults.Web))
                .AddNamespace("notes", ns => ns.On<Note, Note>("star", (_, note, _) => Task.FromResult(note with { Stars = note.Stars + 1 }))),
            app => app.MapWebSocketEndpoint("/ws", "notes"));
        using var client = new EventClient(await host.ConnectAsync("/ws"), "c");

        var reply = await client.RequestAsync("star", new { text = "hi", stars = 1 });

        Assert.Equal(2, reply.GetProperty("data").GetProperty("stars").GetInt32());
        Assert.Equal("hi", reply.GetProperty("data").GetProperty("text").GetString());
        Assert.Equal("""{"text":"a","stars":1}""", SocketMessage.Json(new Note("a", 1), new JsonSerializerOptions(JsonSerializerDefaults.Web)).GetText());
    }
}
