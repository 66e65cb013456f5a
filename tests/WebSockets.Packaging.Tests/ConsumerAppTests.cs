using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using WebSockets.Packaging.Tests.Infrastructure;

namespace WebSockets.Packaging.Tests;

/// <summary>
/// A fresh web app, outside the repository, installs the packages from the local feed (next to the machine's own NuGet
/// sources), builds, runs on a free loopback port and echoes a message: what a user of the packages does first.
/// </summary>
[Collection(PackageFeedCollection.Name)]
public sealed class ConsumerAppTests(PackageFeed feed)
{
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(3);
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan MessageTimeout = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task FreshApp_InstallsPackagesFromLocalFeed_AndEchoes()
    {
        using var app = new TempDirectory("websockets-consumer");
        WriteApp(app);

        var build = await Command.RunAsync("dotnet", ["build", "-c", "Release", "-nologo", "-nodeReuse:false"], app.Path, BuildTimeout);
        build.EnsureSuccess();
        var assets = await File.ReadAllTextAsync(app.Combine("obj", "project.assets.json"));
        foreach (var id in PackageFeed.PackageIds)
        {
            Assert.Contains($"\"{id}/{feed.Version}\"", assets, StringComparison.Ordinal); // from the local feed, this run's version
        }

        var port = FreePort();
        using var process = new Process
        {
            StartInfo = Command.CreateStartInfo("dotnet", [app.Combine("bin", "Release", "net10.0", "Consumer.dll"), "--urls", $"http://127.0.0.1:{port}"], app.Path),
        };
        var output = new StringBuilder();
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnLine(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (output)
            {
                output.AppendLine(line);
            }

            if (line.Contains("Now listening on", StringComparison.Ordinal))
            {
                listening.TrySetResult();
            }
        }

        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        Command.Start(process, "dotnet Consumer.dll");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var exited = process.WaitForExitAsync();
            if (await Task.WhenAny(listening.Task, exited, Task.Delay(StartTimeout)) != listening.Task)
            {
                Assert.Fail($"The app did not start listening within {StartTimeout}. Its output:\n{Output()}");
            }

            using var timeout = new CancellationTokenSource(MessageTimeout);
            Assert.Equal("hello over the packages", await RoundTripAsync(port, "/ws/echo", "hello over the packages", timeout.Token));
            Assert.Equal("""{"reply":1,"data":"HI"}""", await RoundTripAsync(port, "/ws/chat", """{"event":"shout","data":"hi","id":1}""", timeout.Token));
            Assert.Contains("packages: WebSockets WebSockets.Redis WebSockets.Client", Output(), StringComparison.Ordinal);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync();
        }

        string Output()
        {
            lock (output)
            {
                return output.ToString();
            }
        }
    }

    private void WriteApp(TempDirectory app)
    {
        // Stop MSBuild and NuGet from reading anything above the app's folder, such as a Directory.Build.props in /tmp.
        File.WriteAllText(app.Combine("Directory.Build.props"), "<Project />\n");
        File.WriteAllText(app.Combine("Directory.Build.targets"), "<Project />\n");
        File.WriteAllText(app.Combine("Directory.Packages.props"), "<Project />\n");

        // No <clear />: the local feed comes on top of the machine's own sources (the user's NuGet.Config), which restore
        // the rest of the dependency graph.
        File.WriteAllText(app.Combine("NuGet.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="websockets-local-feed" value="{feed.Directory}" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(app.Combine("Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk.Web">
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="WebSockets" Version="{feed.Version}" />
                <PackageReference Include="WebSockets.Redis" Version="{feed.Version}" />
                <PackageReference Include="WebSockets.Client" Version="{feed.Version}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(app.Combine("Program.cs"), """
            using WebSockets;
            using WebSockets.Client;
            using WebSockets.Redis;

            var builder = WebApplication.CreateBuilder(args);
            builder.Services.AddSocketRegistry()
                .AddNamespace("chat", ns => ns.On<string, string>("shout", (socket, text, ct) => Task.FromResult(text.ToUpperInvariant())));
            var app = builder.Build();
            app.MapWebSocketEndpoint("/ws/echo", (string message) => message);
            app.MapWebSocketEndpoint("/ws/chat", "chat");
            Console.WriteLine($"packages: {typeof(ISocketRegistry).Assembly.GetName().Name} {typeof(RedisBackplaneOptions).Assembly.GetName().Name} {typeof(SocketClient).Assembly.GetName().Name}");
            app.Run();
            """);
    }

    private static async Task<string> RoundTripAsync(int port, string path, string text, CancellationToken cancellationToken)
    {
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{port}{path}"), cancellationToken);
        await socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
        var buffer = new byte[4096];
        var received = new MemoryStream();
        ValueWebSocketReceiveResult result;
        do
        {
            result = await socket.ReceiveAsync(buffer.AsMemory(), cancellationToken);
            received.Write(buffer, 0, result.Count);
        }
        while (!result.EndOfMessage);

        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", cancellationToken);
        return Encoding.UTF8.GetString(received.ToArray());
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
