using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests;

/// <summary>The EchoApp sample, hosted in-memory with WebApplicationFactory.</summary>
public sealed class SampleAppTests
{
    [Fact]
    public async Task EchoSample_WelcomesThenEchoesTextAsTextAndBinaryAsBinary()
    {
        await using var factory = new WebApplicationFactory<Program>();
        using var client = await ConnectAsync(factory);

        var welcome = await client.ReceiveTextAsync();
        var connection = Assert.Single(factory.Services.GetRequiredService<ISocketRegistry>().GetConnections());
        Assert.Equal($"welcome {connection.Id}", welcome);

        await client.SendTextAsync("hello, echo");
        var text = await client.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Text, text.Type);
        Assert.Equal("hello, echo", text.Text);

        byte[] binary = [0x00, 0xFF, 0x10, 0x80, 0xC3, 0x28, 0x7F, 0x01];
        await client.SendBinaryAsync(binary);
        var echoed = await client.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Binary, echoed.Type);
        Assert.Equal(binary, echoed.Data);

        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None).DefaultTimeout();
        Assert.Equal(WebSocketCloseStatus.NormalClosure, client.CloseStatus);
    }

    [Fact]
    public async Task EchoSample_PlainGetOnWebSocketEndpoint_Returns426()
    {
        await using var factory = new WebApplicationFactory<Program>();
        using var http = factory.CreateClient();

        using var response = await http.GetAsync("/ws/echo").DefaultTimeout();

        Assert.Equal(HttpStatusCode.UpgradeRequired, response.StatusCode);
        Assert.Contains("WebSocket", await response.Content.ReadAsStringAsync().DefaultTimeout(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task EchoSample_ConnectionsEndpoint_CountsLiveConnection()
    {
        await using var factory = new WebApplicationFactory<Program>();
        using var http = factory.CreateClient();
        Assert.Equal(0, await GetConnectionCountAsync(http));

        using var client = await ConnectAsync(factory);
        Assert.StartsWith("welcome ", await client.ReceiveTextAsync(), StringComparison.Ordinal);

        Assert.Equal(1, await GetConnectionCountAsync(http));
    }

    [Fact]
    public async Task EventsEndpoint_EchoRequestReplies_ShoutReachesOthers_TicksArriveBatched()
    {
        await using var factory = new WebApplicationFactory<Program>();
        using var sender = await ConnectAsync(factory, "/ws/events");
        using var listener = await ConnectAsync(factory, "/ws/events");

        await sender.SendTextAsync("""{"event":"echo","data":{"x":[1,2]},"id":5}""");
        var reply = (await sender.ReceiveMessageAsync()).Json;
        Assert.Equal(5, reply.GetProperty("reply").GetInt32());
        Assert.Equal("[1,2]", reply.GetProperty("data").GetProperty("x").GetRawText());

        await sender.SendTextAsync("""{"event":"shout","data":{"text":"hey"}}""");
        var shouted = (await listener.ReceiveMessageAsync()).Json;
        Assert.Equal("shouted", shouted.GetProperty("event").GetString());
        Assert.Equal("hey", shouted.GetProperty("data").GetProperty("text").GetString());
        Assert.False(string.IsNullOrEmpty(shouted.GetProperty("data").GetProperty("from").GetString()));

        using var http = factory.CreateClient();
        (await http.PostAsync("/tick", null).DefaultTimeout()).EnsureSuccessStatusCode();
        (await http.PostAsync("/tick", null).DefaultTimeout()).EnsureSuccessStatusCode();
        var ticks = new List<JsonElement>();
        while (ticks.Count < 2)
        {
            var batch = (await listener.ReceiveMessageAsync()).Json;
            Assert.Equal("batch_tick", batch.GetProperty("event").GetString());
            ticks.AddRange(batch.GetProperty("data").EnumerateArray());
        }

        Assert.Equal(2, ticks.Count);
    }

    [Fact]
    public async Task NotesController_AddRepliesWithAllNotes_AndTellsOthers()
    {
        await using var factory = new WebApplicationFactory<Program>();
        using var writer = await ConnectAsync(factory, "/ws/notes");
        using var reader = await ConnectAsync(factory, "/ws/notes");

        await writer.SendTextAsync("""{"event":"add","data":{"text":"buy milk"},"id":1}""");
        var reply = (await writer.ReceiveMessageAsync()).Json;
        Assert.Equal(1, reply.GetProperty("reply").GetInt32());
        Assert.Equal(["buy milk"], reply.GetProperty("data").EnumerateArray().Select(e => e.GetString()));

        var added = (await reader.ReceiveMessageAsync()).Json;
        Assert.Equal("added", added.GetProperty("event").GetString());
        Assert.Equal("buy milk", added.GetProperty("data").GetProperty("text").GetString());
    }

    private static async Task<WebSocket> ConnectAsync(WebApplicationFactory<Program> factory, string path = "/ws/echo")
    {
        var wsClient = factory.Server.CreateWebSocketClient();
        var uri = new UriBuilder(factory.Server.BaseAddress) { Scheme = "ws", Path = path }.Uri;
        return await wsClient.ConnectAsync(uri, CancellationToken.None).DefaultTimeout();
    }

    private static async Task<int> GetConnectionCountAsync(HttpClient http)
    {
        using var response = await http.GetAsync("/connections").DefaultTimeout();
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync().DefaultTimeout());
        return json.RootElement.GetProperty("count").GetInt32();
    }
}
