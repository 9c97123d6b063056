using System.Diagnostics;
using System.IO.Compression;
using System.Xml.Linq;

namespace Mixer.Sdk.Tests;

/// <summary>
/// What an adapter author gets from <c>dotnet pack</c>: a Mixer.Sdk package with the assembly and
/// its XML docs, depending on the Mixer.Api package (the wire contracts) it needs, not on anything
/// of the server.
/// </summary>
public sealed class PackageTests
{
    [Fact]
    public async Task Pack_MixerSdk_ShipsTheAssemblyItsDocsAndTheApiDependency()
    {
        var output = Directory.CreateTempSubdirectory("mixer-pack-").FullName;
        try
        {
            // The suite runs after the solution is built; pack what was built, in the same configuration.
            var configuration = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
            foreach (var project in new[] { "sdk/Mixer.Api/Mixer.Api.csproj", "sdk/Mixer.Sdk/Mixer.Sdk.csproj" })
            {
                var (code, log) = await RunAsync("dotnet", $"pack {Path.Combine(Root, project)} -c {configuration} --no-build -nologo -o {output}");
                code.ShouldBe(0, log);
            }

            var sdk = Directory.GetFiles(output, "Mixer.Sdk.*.nupkg").ShouldHaveSingleItem();
            Directory.GetFiles(output, "Mixer.Api.*.nupkg").ShouldHaveSingleItem();
            using var zip = ZipFile.OpenRead(sdk);
            var entries = zip.Entries.Select(e => e.FullName).ToList();
            entries.ShouldContain("lib/net10.0/Mixer.Sdk.dll");
            entries.ShouldContain("lib/net10.0/Mixer.Sdk.xml");

            using var nuspecStream = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open();
            var nuspec = XDocument.Load(nuspecStream);
            var dependencies = nuspec.Descendants().Where(e => e.Name.LocalName == "dependency").Select(e => (string?)e.Attribute("id")).ToList();
            dependencies.ShouldContain("Mixer.Api");
            dependencies.ShouldContain("Microsoft.Extensions.Logging.Abstractions");
            dependencies.ShouldNotContain(d => d != null && (d.StartsWith("Mixer.Runtime", StringComparison.Ordinal) || d.StartsWith("mixs", StringComparison.Ordinal)));
            nuspec.Descendants().Single(e => e.Name.LocalName == "description").Value.ShouldNotBeNullOrWhiteSpace();
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    private static async Task<(int Code, string Log)> RunAsync(string file, string arguments)
    {
        var start = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    private static string Root
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Mixer.sln")))
            {
                dir = dir.Parent;
            }

            return dir?.FullName ?? throw new InvalidOperationException("Mixer.sln not found above " + AppContext.BaseDirectory);
        }
    }
}
