using System.IO.Compression;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Xml.Linq;
using WebSockets.Packaging.Tests.Infrastructure;

namespace WebSockets.Packaging.Tests;

/// <summary>What each .nupkg and .snupkg holds: the library, its XML docs, its readme, MIT, the symbols, and nothing else.</summary>
[Collection(PackageFeedCollection.Name)]
public sealed class NuGetPackageTests(PackageFeed feed)
{
    public static TheoryData<string> Packages => [.. PackageFeed.PackageIds];

    [Fact]
    public void Feed_HoldsExactlyThePackagesOfSrc()
    {
        var files = Directory.GetFiles(feed.Directory).Select(Path.GetFileName).Order(StringComparer.Ordinal);
        var expected = PackageFeed.PackageIds.SelectMany(id => new[] { $"{id}.{feed.Version}.nupkg", $"{id}.{feed.Version}.snupkg" }).Order(StringComparer.Ordinal);
        Assert.Equal(expected, files);
    }

    [Theory]
    [MemberData(nameof(Packages))]
    public void Package_HoldsTheLibraryItsDocsAndReadme(string id)
    {
        using var package = ZipFile.OpenRead(feed.PathOf(id));
        var files = package.Entries.Select(static e => e.FullName).Where(static n => !IsPackagingPart(n)).Order(StringComparer.Ordinal);
        Assert.Equal(new[] { $"{id}.nuspec", "README.md", $"lib/net10.0/{id}.dll", $"lib/net10.0/{id}.xml" }.Order(StringComparer.Ordinal), files);

        var readme = Read(package, "README.md");
        var expectedReadme = id == "WebSockets" ? Repository.PathOf("README.md") : Repository.PathOf("src", id, "README.md");
        Assert.Equal(File.ReadAllText(expectedReadme), readme);

        var docs = XDocument.Parse(Read(package, $"lib/net10.0/{id}.xml"));
        Assert.Equal(id, docs.Root!.Element("assembly")!.Element("name")!.Value);
        Assert.True(docs.Root.Element("members")!.Elements("member").Count() > 20, "The XML docs hold the public members' documentation.");
    }

    [Theory]
    [MemberData(nameof(Packages))]
    public void Nuspec_HasMetadataLicenseAndReadme(string id)
    {
        using var package = ZipFile.OpenRead(feed.PathOf(id));
        var nuspec = XDocument.Parse(Read(package, $"{id}.nuspec"));
        XNamespace ns = nuspec.Root!.Name.Namespace;
        var metadata = nuspec.Root.Element(ns + "metadata")!;
        string? Value(string name) => metadata.Element(ns + name)?.Value;

        Assert.Equal(id, Value("id"));
        Assert.Equal(feed.Version, Value("version"));
        Assert.Equal("WebSockets contributors", Value("authors"));
        Assert.Equal("MIT", Value("license"));
        Assert.Equal("expression", metadata.Element(ns + "license")!.Attribute("type")!.Value);
        Assert.Equal("README.md", Value("readme"));
        Assert.False(string.IsNullOrWhiteSpace(Value("description")));
        Assert.Contains("websocket", Value("tags")!.Split(' '));

        // SourceLink's repository element: always the commit; the URL too once the repository has a remote (docs/packaging.md).
        var repository = metadata.Element(ns + "repository");
        Assert.NotNull(repository);
        Assert.Equal("git", repository.Attribute("type")?.Value);
        Assert.Matches("^[0-9a-f]{40}$", repository.Attribute("commit")?.Value ?? string.Empty);

        var dependencies = metadata.Element(ns + "dependencies")!.Descendants(ns + "dependency").ToDictionary(d => d.Attribute("id")!.Value, d => d.Attribute("version")!.Value);
        switch (id)
        {
            case "WebSockets":
                Assert.Empty(dependencies);
                break;
            case "WebSockets.Redis":
                Assert.Equal(new Dictionary<string, string> { ["WebSockets"] = feed.Version }, dependencies);
                break;
            case "WebSockets.Client":
                Assert.All(dependencies.Keys, static d => Assert.StartsWith("Microsoft.Extensions.", d, StringComparison.Ordinal));
                Assert.DoesNotContain("WebSockets", dependencies.Keys);
                break;
        }
    }

    [Theory]
    [MemberData(nameof(Packages))]
    public void SymbolsPackage_HoldsThePortablePdbOfTheDeterministicDll(string id)
    {
        using var symbols = ZipFile.OpenRead(feed.PathOf(id, "snupkg"));
        Assert.Equal([$"{id}.nuspec", $"lib/net10.0/{id}.pdb"], symbols.Entries.Select(static e => e.FullName).Where(static n => !IsPackagingPart(n)).Order(StringComparer.Ordinal));

        using var package = ZipFile.OpenRead(feed.PathOf(id));
        using var dll = new MemoryStream();
        using (var entry = package.GetEntry($"lib/net10.0/{id}.dll")!.Open())
        {
            entry.CopyTo(dll);
        }

        dll.Position = 0;
        using var pe = new PEReader(dll);
        var debug = pe.ReadDebugDirectory();
        Assert.Contains(debug, static d => d.Type == DebugDirectoryEntryType.Reproducible); // Deterministic
        var codeView = pe.ReadCodeViewDebugDirectoryData(debug.Single(static d => d.Type == DebugDirectoryEntryType.CodeView));

        using var pdbBytes = new MemoryStream();
        using (var entry = symbols.GetEntry($"lib/net10.0/{id}.pdb")!.Open())
        {
            entry.CopyTo(pdbBytes);
        }

        pdbBytes.Position = 0;
        using var pdbProvider = MetadataReaderProvider.FromPortablePdbStream(pdbBytes);
        var pdb = pdbProvider.GetMetadataReader();
        Assert.Equal(codeView.Guid, new BlobContentId(pdb.DebugMetadataHeader!.Id).Guid); // the pdb matches the packed dll
        Assert.NotEmpty(pdb.Documents);
    }

    private static bool IsPackagingPart(string name)
        => name.StartsWith("_rels/", StringComparison.Ordinal) || name.StartsWith("package/", StringComparison.Ordinal) || name == "[Content_Types].xml";

    private static string Read(ZipArchive package, string name)
    {
        using var reader = new StreamReader(package.GetEntry(name)?.Open() ?? throw new InvalidOperationException($"{name} is not in the package."));
        return reader.ReadToEnd();
    }
}
