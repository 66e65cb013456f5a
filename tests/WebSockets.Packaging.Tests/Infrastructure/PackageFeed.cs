namespace WebSockets.Packaging.Tests.Infrastructure;

/// <summary>
/// The three NuGet packages, packed once per test run into a local folder feed, from the src projects as these tests'
/// build left them (<c>dotnet pack --no-build</c>, so the run never rebuilds what other test projects are using).
/// </summary>
/// <remarks>
/// The version is unique per run (<c>0.0.0-test.t&lt;guid&gt;</c>), so the shared NuGet cache can never hand a stale copy
/// to the consumer app; the cache's copies of that version are deleted on dispose.
/// </remarks>
public sealed class PackageFeed : IAsyncLifetime
{
    public static readonly string[] PackageIds = ["WebSockets", "WebSockets.Redis", "WebSockets.Client"];

    private readonly TempDirectory _root = new("websockets-feed");

    public string Version { get; } = $"0.0.0-test.t{Guid.NewGuid():N}";

    public string Directory => _root.Combine("feed");

    public string PathOf(string id, string extension = "nupkg") => Path.Combine(Directory, $"{id}.{Version}.{extension}");

    public async Task InitializeAsync()
    {
        foreach (var id in PackageIds)
        {
            var result = await Command.RunAsync(
                "dotnet",
                [
                    "pack", Repository.PathOf("src", id, $"{id}.csproj"),
                    "-c", Repository.Configuration, "--no-build", "--no-restore", "-nologo", "-nodeReuse:false",
                    "-o", Directory,
                    $"-p:PackageVersion={Version}",
                    // The nuspec goes to this run's folder, not to obj/, which other test runs may be reading.
                    $"-p:NuspecOutputPath={_root.Combine("nuspec")}{Path.DirectorySeparatorChar}",
                ],
                Repository.Root,
                TimeSpan.FromMinutes(2));
            result.EnsureSuccess();
        }
    }

    public Task DisposeAsync()
    {
        _root.Dispose();
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (var id in PackageIds)
        {
            var cached = Path.Combine(cache, id.ToLowerInvariant(), Version);
            try
            {
                if (System.IO.Directory.Exists(cached))
                {
                    System.IO.Directory.Delete(cached, recursive: true);
                }

                // The id's folder too, unless another version (another run's) is in it.
                var idFolder = Path.GetDirectoryName(cached)!;
                if (System.IO.Directory.Exists(idFolder) && !System.IO.Directory.EnumerateFileSystemEntries(idFolder).Any())
                {
                    System.IO.Directory.Delete(idFolder);
                }
            }
            catch (IOException)
            {
            }
        }

        return Task.CompletedTask;
    }
}

[CollectionDefinition(Name)]
public sealed class PackageFeedCollection : ICollectionFixture<PackageFeed>
{
    public const string Name = "Package feed";
}
