using System.Text.Json;
using WebSockets.Packaging.Tests.Infrastructure;

namespace WebSockets.Packaging.Tests;

/// <summary>
/// The TypeScript client's npm package: <c>npm pack</c> (which builds it with its prepack script) makes a tarball with the
/// compiled modules, their types, the sources, the readme and the MIT license, and nothing else.
/// </summary>
/// <remarks>
/// The package is packed from a copy in a temp folder, so its build never races the TypeScript client's own tests, which
/// compile into src/client-ts at the same time.
/// </remarks>
public sealed class NpmPackageTests
{
    private static readonly string PackageDirectory = Repository.PathOf("src", "client-ts");

    [Fact]
    public async Task NpmPack_HoldsTheBuiltModulesTypesReadmeAndLicense()
    {
        using var temp = new TempDirectory("websockets-npm");
        var package = temp.Combine("package");
        CopyPackage(package);
        var typescript = Path.Combine(PackageDirectory, "node_modules");
        if (File.Exists(Path.Combine(typescript, "typescript", "package.json")))
        {
            Directory.CreateSymbolicLink(Path.Combine(package, "node_modules"), typescript);
        }
        else
        {
            (await Command.RunAsync(Command.Npm, ["ci", "--no-audit", "--no-fund"], package, TimeSpan.FromMinutes(3))).EnsureSuccess();
        }

        var tarballs = temp.Combine("tarballs");
        Directory.CreateDirectory(tarballs);
        var pack = (await Command.RunAsync(Command.Npm, ["pack", "--json", "--pack-destination", tarballs], package, TimeSpan.FromMinutes(2))).EnsureSuccess();

        // The JSON array follows whatever the prepack script printed.
        using var json = JsonDocument.Parse(pack.Output[pack.Output.IndexOf("[\n", StringComparison.Ordinal)..]);
        var result = json.RootElement[0];
        var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(PackageDirectory, "package.json"))).RootElement;
        Assert.Equal(manifest.GetProperty("name").GetString(), result.GetProperty("name").GetString());
        Assert.Equal(manifest.GetProperty("version").GetString(), result.GetProperty("version").GetString());
        Assert.Equal("MIT", manifest.GetProperty("license").GetString());
        Assert.True(File.Exists(Path.Combine(tarballs, result.GetProperty("filename").GetString()!)));

        var files = result.GetProperty("files").EnumerateArray().Select(static f => f.GetProperty("path").GetString()!).ToHashSet(StringComparer.Ordinal);
        var sources = Directory.GetFiles(Path.Combine(PackageDirectory, "src"), "*.ts").Select(static f => Path.GetFileNameWithoutExtension(f)).ToList();
        Assert.NotEmpty(sources);
        var expected = new HashSet<string>(StringComparer.Ordinal) { "package.json", "README.md", "LICENSE" };
        foreach (var source in sources)
        {
            expected.UnionWith([$"src/{source}.ts", $"dist/{source}.js", $"dist/{source}.js.map", $"dist/{source}.d.ts", $"dist/{source}.d.ts.map"]);
        }

        Assert.Equal(expected.Order(StringComparer.Ordinal), files.Order(StringComparer.Ordinal));
        Assert.Equal(File.ReadAllText(Repository.PathOf("LICENSE")), File.ReadAllText(Path.Combine(PackageDirectory, "LICENSE")));
    }

    /// <summary>What npm would read from src/client-ts: the manifest, the lock file, the compiler settings, the sources, readme and license.</summary>
    private static void CopyPackage(string destination)
    {
        Directory.CreateDirectory(Path.Combine(destination, "src"));
        foreach (var file in new[] { "package.json", "package-lock.json", "tsconfig.json", "README.md", "LICENSE" })
        {
            File.Copy(Path.Combine(PackageDirectory, file), Path.Combine(destination, file));
        }

        foreach (var file in Directory.GetFiles(Path.Combine(PackageDirectory, "src")))
        {
            File.Copy(file, Path.Combine(destination, "src", Path.GetFileName(file)));
        }
    }
}
