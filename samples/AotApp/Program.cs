using System.Text.Json;
using System.Text.Json.Serialization;
using WebSockets;

// Native AOT: every type the app sends or receives comes from a JsonSerializerContext, handlers are the typed On<TData>
// overloads (no reflection binds them), and endpoints are namespace endpoints. The Delegate overloads (raw handlers,
// On(string, Delegate), OnBinary) and controllers carry [RequiresDynamicCode]: the build fails if the app uses them.
var builder = WebApplication.CreateSlimBuilder(args);
builder.Services.AddSocketRegistry(options => options.JsonSerializerOptions.TypeInfoResolverChain.Insert(0, AotJsonContext.Default))
    .AddNamespace("chat", ns => ns
        .OnConnected((socket, ct) => socket.EmitAsync("welcome", new Welcome(socket.Id), ct).AsTask())
        .On<ChatMessage>("chat.send", (socket, message, ct) =>
            socket.BroadcastAsync("chat.message", message with { From = socket.Id }, ct).AsTask())
        .On<string, string>("echo", (socket, text, ct) => Task.FromResult(text))
        .AllowClientRooms((socket, room, ct) => ValueTask.FromResult(!room.StartsWith("private.", StringComparison.Ordinal))));

var app = builder.Build();
app.MapWebSocketEndpoint("/ws/chat", "chat");
app.Run();

internal sealed record ChatMessage(string Text, string? From);

internal sealed record Welcome(string Id);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(ChatMessage))]
[JsonSerializable(typeof(Welcome))]
[JsonSerializable(typeof(string))]
internal sealed partial class AotJsonContext : JsonSerializerContext;
