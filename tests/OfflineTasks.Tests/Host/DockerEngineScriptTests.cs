using System.Diagnostics;
using OfflineTasks.Tests.Infrastructure;

namespace OfflineTasks.Tests.Host;

/// <summary>scripts/docker-engine.sh on a machine without Docker: a clear message naming what is missing and how to install it.</summary>
public sealed class DockerEngineScriptTests
{
    [Fact]
    public void Without_Docker_it_says_what_is_missing_and_how_to_install_it()
    {
        // A PATH that has what the script itself needs, and no docker, no dockerd.
        var bin = Directory.CreateTempSubdirectory("offlinetasks-nodocker-");
        try
        {
            foreach (var tool in new[] { "dirname", "cat", "seq", "sleep", "timeout", "rm", "mkdir" })
            {
                File.CreateSymbolicLink(Path.Combine(bin.FullName, tool), "/usr/bin/" + tool);
            }

            var info = new ProcessStartInfo("/bin/bash") { RedirectStandardOutput = true, RedirectStandardError = true };
            info.ArgumentList.Add(Path.Combine(Repository.Root, "scripts", "docker-engine.sh"));
            info.ArgumentList.Add("start");
            info.Environment["PATH"] = bin.FullName;
            info.Environment.Remove("DOCKER_HOST");
            using var process = Process.Start(info)!;
            var stderr = process.StandardError.ReadToEnd();
            var stdout = process.StandardOutput.ReadToEnd();
            Assert.True(process.WaitForExit(30_000));

            Assert.Equal(1, process.ExitCode);
            Assert.Equal("", stdout);
            Assert.Equal("docker-engine: the docker command is missing: apt-get install docker.io (scripts/setup.sh installs it)\n", stderr);
        }
        finally
        {
            bin.Delete(recursive: true);
        }
    }
}
