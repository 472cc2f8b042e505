// Polls running training jobs on the model versions page and updates their progress bars.
(function () {
  "use strict";
  var rows = document.querySelectorAll("tr[data-poll]");
  function poll(row) {
    fetch(row.dataset.poll, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (job) {
        row.querySelector("progress").value = job.progress;
        row.querySelector(".job-message").textContent = job.message;
        row.querySelector(".job-status").textContent = job.status;
        if (job.status === "running") {
          setTimeout(function () { poll(row); }, 1000);
        } else {
          // Reload once so the new version shows in the versions table.
          window.location.reload();
        }
      })
      .catch(function () { setTimeout(function () { poll(row); }, 3000); });
  }
  rows.forEach(function (row) { poll(row); });
})();
