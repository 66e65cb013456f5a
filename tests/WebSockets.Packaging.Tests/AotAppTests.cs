using System.Text.Json;
using WebSockets.Packaging.Tests.Infrastructure;

namespace WebSockets.Packaging.Tests;

/// <summary>
/// samples/AotApp, run as built: its runtimeconfig turns reflection-based JSON off, as a Native AOT publish does, so the
/// typed handlers, the app's JsonSerializerContext and the library's own built-in events ($join) must do without it.
/// (A native publish itself needs the ILCompiler packages; docs/packaging.md.)
/// </summary>
public sealed class AotAppTests
{
    [Fact]
    public async Task AotApp_WithReflectionJsonOff_ServesTypedEventsAndBuiltInRooms()
    {
        var output = Repository.PathOf("samples", "AotApp", "bin", Repository.Configuration, "net10.0");
        var runtimeConfig = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "AotApp.runtimeconfig.json")));
        Assert.False(runtimeConfig.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties")
            .GetProperty("System.Text.Json.JsonSerializer.IsReflectionEnabledByDefault").GetBoolean());

        await using var app = await AppProcess.StartAsync(Path.Combine(output, "AotApp.dll"), output);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        using var socket = await app.ConnectAsync("/ws/chat", timeout.Token);

        var welcome = JsonDocument.Parse(await AppProcess.ReceiveAsync(socket, timeout.Token)).RootElement;
        Assert.Equal("welcome", welcome.GetProperty("event").GetString());
        Assert.False(string.IsNullOrEmpty(welcome.GetProperty("data").GetProperty("id").GetString()));

        await AppProcess.SendAsync(socket, """{"event":"echo","data":"native","id":1}""", timeout.Token);
        Assert.Equal("""{"reply":1,"data":"native"}""", await AppProcess.ReceiveAsync(socket, timeout.Token));

        await AppProcess.SendAsync(socket, """{"event":"$join","data":{"room":"lobby"},"id":2}""", timeout.Token);
        Assert.Equal("""{"reply":2,"data":{"room":"lobby","rooms":["lobby"]}}""", await AppProcess.ReceiveAsync(socket, timeout.Token));

        await AppProcess.SendAsync(socket, """{"event":"$join","data":{"room":"private.x"},"id":3}""", timeout.Token);
        var refused = JsonDocument.Parse(await AppProcess.ReceiveAsync(socket, timeout.Token)).RootElement;
        Assert.Equal("forbidden", refused.GetProperty("error").GetProperty("code").GetString());
    }
}
