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

        await using var running = await AppProcess.StartAsync(app.Combine("bin", "Release", "net10.0", "Consumer.dll"), app.Path);
        using var timeout = new CancellationTokenSource(MessageTimeout);
        Assert.Equal("hello over the packages", await running.RoundTripAsync("/ws/echo", "hello over the packages", timeout.Token));
        Assert.Equal("""{"reply":1,"data":"HI"}""", await running.RoundTripAsync("/ws/chat", """{"event":"shout","data":"hi","id":1}""", timeout.Token));
        Assert.Contains("packages: WebSockets WebSockets.Redis WebSockets.Client", running.Output, StringComparison.Ordinal);
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
}
